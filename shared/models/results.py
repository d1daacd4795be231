"""Results and reporting: indicators, their measurements, and periodic reports.

Indicators hang under initiatives; ``agreement_id`` is copied from the
initiative (which never changes agreement) for filters, event aggregates and
rollups without a join. Reports are opened by the sweep, one per period of an
agreement's reporting schedule: the unique ``(agreement_id, period_start)``
lets any number of sweeps race and still open each period once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import today
from shared.db import Base, JSONDocument, UTCDateTime, utcnow
from shared.ids import uuid7
from shared.lifecycle import report_is_overdue
from shared.models.mixins import VersionedResource


class Indicator(VersionedResource, Base):
    """What an initiative measures, with its baseline and target."""

    __tablename__ = "indicators"

    initiative_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("initiatives.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    agreement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("agreements.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    measure: Mapped[str] = mapped_column(String(20), nullable=False)
    unit: Mapped[str | None] = mapped_column(String(200))
    # {"value": number | text, "on": "YYYY-MM-DD" | null}
    baseline: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    target: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    objective_ref: Mapped[str | None] = mapped_column(String(20))


class Measurement(Base):
    """One measured value of an indicator; measurements are recorded, never edited."""

    __tablename__ = "indicator_measurements"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    indicator_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("indicators.id", ondelete="CASCADE"), nullable=False
    )
    agreement_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, index=True)
    value: Mapped[Any] = mapped_column(JSONDocument, nullable=False)
    on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    # The accepted report that carried it, if any.
    report_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("reports.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_indicator_measurements_indicator_id_on", "indicator_id", "on", "id"),
    )


class Report(VersionedResource, Base):
    """The progress report a partner owes for one period of an agreement."""

    __tablename__ = "reports"

    agreement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("agreements.id", ondelete="RESTRICT"), nullable=False
    )
    # Copied from the schedule when the report is opened: a later change of
    # the schedule leaves reports already opened as they were.
    reporter_organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    period_start: Mapped[dt.date] = mapped_column(Date, nullable=False)
    period_end: Mapped[dt.date] = mapped_column(Date, nullable=False)
    due_on: Mapped[dt.date] = mapped_column(Date, nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open", index=True)
    narrative: Mapped[str | None] = mapped_column(Text)
    challenges: Mapped[str | None] = mapped_column(Text)
    next_steps: Mapped[str | None] = mapped_column(Text)
    measurements: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONDocument, nullable=False, default=list
    )
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    review_comment: Mapped[str | None] = mapped_column(Text)
    # When the sweep emitted report.due / report.overdue: each once.
    due_notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    overdue_notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("agreement_id", "period_start"),)

    @property
    def overdue(self) -> bool:
        return report_is_overdue(self.status, self.due_on, today())
