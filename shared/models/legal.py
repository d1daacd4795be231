"""The legal record of an agreement: party acts, amendments and terms versions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, JSONDocument, UTCDateTime, utcnow
from shared.ids import uuid7
from shared.models.mixins import VersionedResource


class PartyAct(VersionedResource, Base):
    """What one party did, when: a signature, a consent to be bound, a withdrawal."""

    __tablename__ = "party_acts"

    agreement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("agreements.id", ondelete="CASCADE"), nullable=False
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    act: Mapped[str] = mapped_column(String(20), nullable=False)
    on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    signed_by_name: Mapped[str | None] = mapped_column(String(300))
    signed_by_title: Mapped[str | None] = mapped_column(String(300))
    place: Mapped[str | None] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_party_acts_agreement_id_organization_id", "agreement_id", "organization_id"),
    )


class Amendment(VersionedResource, Base):
    """An effective-dated change of an agreement's terms."""

    __tablename__ = "amendments"

    agreement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("agreements.id", ondelete="CASCADE"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    summary: Mapped[str | None] = mapped_column(Text)
    signed_on: Mapped[dt.date | None] = mapped_column(Date)
    effective_from: Mapped[dt.date] = mapped_column(Date, nullable=False)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    applied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The terms version its application made (null until applied).
    terms_version: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_amendments_status_effective_from", "status", "effective_from"),)


class AgreementVersion(Base):
    """The terms of an agreement as in force from ``effective_from``; append-only
    except that corrections (a PATCH of the agreement) rewrite the latest one."""

    __tablename__ = "agreement_versions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    agreement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("agreements.id", ondelete="CASCADE"), nullable=False
    )
    n: Mapped[int] = mapped_column(Integer, nullable=False)
    effective_from: Mapped[dt.date | None] = mapped_column(Date)
    amendment_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("amendments.id", ondelete="SET NULL")
    )
    terms: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("agreement_id", "n"),)
