"""Columns most resources share."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Integer, Uuid
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from shared.db import UTCDateTime, utcnow
from shared.ids import uuid7


class VersionedResource:
    """Id, timestamps and the optimistic-concurrency ``version`` behind ETags.

    SQLAlchemy's ``version_id_col`` makes every UPDATE check and bump the
    version, so two writers racing past the same If-Match cannot both win.
    """

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, object]:
        return {"version_id_col": cls.version}
