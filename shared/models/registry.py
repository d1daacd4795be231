"""Organizations and agreements: the registry at the heart of Accords."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, JSONDocument, UTCDateTime, utcnow
from shared.ids import uuid7
from shared.models.mixins import VersionedResource

# None is SQL NULL (not JSON null), so `reporting IS NULL` finds agreements without one.
NullableJSONDocument = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class Organization(VersionedResource, Base):
    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(300), nullable=False)
    acronym: Mapped[str | None] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    country: Mapped[str] = mapped_column(String(2), nullable=False, index=True)
    ror_id: Mapped[str | None] = mapped_column(String(40))
    website: Mapped[str | None] = mapped_column(String(2048))
    # The organization's IATI organisation identifier (e.g. `PK-GOV-123`), for exports.
    iati_ref: Mapped[str | None] = mapped_column(String(100))


class Agreement(VersionedResource, Base):
    __tablename__ = "agreements"

    reference: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    instrument_type: Mapped[str] = mapped_column(String(40), nullable=False)
    legal_character: Mapped[str] = mapped_column(String(20), nullable=False)
    summary: Mapped[str | None] = mapped_column(Text)
    focus_areas: Mapped[list[str]] = mapped_column(JSONDocument, nullable=False, default=list)
    objectives: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONDocument, nullable=False, default=list
    )
    signed_on: Mapped[dt.date | None] = mapped_column(Date)
    signed_at: Mapped[str | None] = mapped_column(String(500))
    effective_from: Mapped[dt.date | None] = mapped_column(Date)
    expires_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="draft", index=True)
    # Which terms version is in force (1 until an amendment applies).
    terms_version: Mapped[int] = mapped_column(nullable=False, default=1, server_default="1")
    # The reporting schedule (shared.reports.schedule), or null.
    reporting: Mapped[dict[str, Any] | None] = mapped_column(NullableJSONDocument)
    # The agreement as the API shows it (AgreementPublic's JSON), rewritten in
    # every transaction that changes it (shared.rendered); null until then.
    rendered: Mapped[str | None] = mapped_column(Text, deferred=True)

    parties: Mapped[list[AgreementParty]] = relationship(
        back_populates="agreement",
        cascade="all, delete-orphan",
        lazy="raise",
        order_by="AgreementParty.position",
    )


class AgreementParty(Base):
    __tablename__ = "agreement_parties"

    agreement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("agreements.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="RESTRICT"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(40), nullable=False)
    # Keeps the parties in the order the client gave them.
    position: Mapped[int] = mapped_column(nullable=False, default=0)
    # Derived from the party's acts (shared.agreements.acts.party_dates), kept
    # here so that every read shows them without reading the acts.
    signed_on: Mapped[dt.date | None] = mapped_column(Date)
    consented_on: Mapped[dt.date | None] = mapped_column(Date)
    withdrawn_on: Mapped[dt.date | None] = mapped_column(Date)

    agreement: Mapped[Agreement] = relationship(back_populates="parties", lazy="raise")

    __table_args__ = (Index("ix_agreement_parties_organization_id", "organization_id"),)


class AgreementStatusChange(Base):
    """One lifecycle move of an agreement; the history is append-only."""

    __tablename__ = "agreement_status_changes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    agreement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("agreements.id", ondelete="CASCADE"), nullable=False, index=True
    )
    from_status: Mapped[str] = mapped_column(String(20), nullable=False)
    to_status: Mapped[str] = mapped_column(String(20), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    on: Mapped[dt.date | None] = mapped_column(Date)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # Null when the system (the sweep) made the move.
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
