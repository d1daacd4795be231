"""Implementation tracking: initiatives, milestones, engagements, research.

Everything here hangs under an agreement (research collaborations may stand
alone). Foreign keys to agreements and organizations are RESTRICT: the
services answer 409 before a delete would orphan a row, and the database
refuses it should two requests race past that check.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.clock import today
from shared.db import Base, JSONDocument, UTCDateTime, utcnow
from shared.ids import uuid7
from shared.lifecycle import milestone_is_overdue
from shared.models.mixins import VersionedResource


class Initiative(VersionedResource, Base):
    """A line of work carrying out (an objective of) an agreement."""

    __tablename__ = "initiatives"

    agreement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("agreements.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    objective_ref: Mapped[str | None] = mapped_column(String(20))
    lead_organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="planned", index=True)
    planned_start: Mapped[dt.date | None] = mapped_column(Date)
    planned_end: Mapped[dt.date | None] = mapped_column(Date)
    actual_start: Mapped[dt.date | None] = mapped_column(Date)
    actual_end: Mapped[dt.date | None] = mapped_column(Date)
    weight: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # The status an agreement suspension paused this initiative from, so that
    # resuming the agreement restores exactly what the suspension changed.
    paused_from_status: Mapped[str | None] = mapped_column(String(20))
    # The initiative as the API shows it (shared.rendered); null until written.
    rendered: Mapped[str | None] = mapped_column(Text, deferred=True)


class Milestone(VersionedResource, Base):
    """A dated deliverable of an initiative; ``overdue`` is computed, never stored."""

    __tablename__ = "milestones"

    initiative_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("initiatives.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    # Copied from the initiative (which never changes agreement) for filters,
    # event aggregates and rollups without a join.
    agreement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("agreements.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    due_on: Mapped[dt.date] = mapped_column(Date, nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending", index=True)
    completed_on: Mapped[dt.date | None] = mapped_column(Date)
    weight: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("engagements.id", ondelete="RESTRICT"), index=True
    )

    @property
    def overdue(self) -> bool:
        return milestone_is_overdue(self.status, self.due_on, today())


class Engagement(VersionedResource, Base):
    """A signing ceremony, visit, meeting, workshop, training or conference."""

    __tablename__ = "engagements"

    agreement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("agreements.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    starts_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    location: Mapped[str | None] = mapped_column(String(500))
    host_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    summary: Mapped[str | None] = mapped_column(Text)
    outcomes: Mapped[list[str]] = mapped_column(JSONDocument, nullable=False, default=list)

    participants: Mapped[list[EngagementParticipant]] = relationship(
        cascade="all, delete-orphan",
        lazy="raise",
        order_by="EngagementParticipant.position",
    )

    @property
    def participant_organization_ids(self) -> list[uuid.UUID]:
        return [participant.organization_id for participant in self.participants]


class EngagementParticipant(Base):
    __tablename__ = "engagement_participants"

    engagement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("engagements.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="RESTRICT"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (Index("ix_engagement_participants_organization_id", "organization_id"),)


class ResearchCollaboration(VersionedResource, Base):
    """Joint research, under an agreement or on its own."""

    __tablename__ = "research_collaborations"

    agreement_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("agreements.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    research_area: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="proposed", index=True)
    start_on: Mapped[dt.date | None] = mapped_column(Date)
    end_on: Mapped[dt.date | None] = mapped_column(Date)

    participants: Mapped[list[ResearchParticipant]] = relationship(
        cascade="all, delete-orphan", lazy="raise", order_by="ResearchParticipant.position"
    )
    researchers: Mapped[list[Researcher]] = relationship(
        cascade="all, delete-orphan", lazy="raise", order_by="Researcher.position"
    )
    outputs: Mapped[list[ResearchOutput]] = relationship(
        cascade="all, delete-orphan", lazy="raise", order_by="ResearchOutput.id"
    )


class ResearchParticipant(Base):
    __tablename__ = "research_participants"

    research_collaboration_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("research_collaborations.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="RESTRICT"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (Index("ix_research_participants_organization_id", "organization_id"),)


class Researcher(Base):
    __tablename__ = "researchers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    research_collaboration_id: Mapped[uuid.UUID] = mapped_column(
        Uuid,
        ForeignKey("research_collaborations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    orcid: Mapped[str | None] = mapped_column(String(19))
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    role: Mapped[str] = mapped_column(String(100), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class ResearchOutput(Base):
    __tablename__ = "research_outputs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    research_collaboration_id: Mapped[uuid.UUID] = mapped_column(
        Uuid,
        ForeignKey("research_collaborations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    doi: Mapped[str | None] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(2048))
    published_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
