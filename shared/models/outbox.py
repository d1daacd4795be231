"""The transactional outbox: events committed with the change that caused them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, JSONDocument, UTCDateTime, utcnow
from shared.ids import uuid7


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    type: Mapped[str] = mapped_column(String(80), nullable=False)
    aggregate_type: Mapped[str] = mapped_column(String(40), nullable=False)
    aggregate_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    sequence: Mapped[int] = mapped_column(Integer, nullable=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    # The feed position, given by the single relay only once the row is
    # committed, so a reader paging by position never skips a late commit.
    position: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # With a broker that may lose messages (Redis): when a consumer was done
    # with it; until then the relay hands it over again now and then.
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("aggregate_type", "aggregate_id", "sequence"),
        Index("ix_outbox_events_undispatched", "dispatched_at", "id"),
        # The relay looks up the rows still waiting for a feed position.
        Index(
            "ix_outbox_events_unpositioned",
            "id",
            postgresql_where=text("position IS NULL"),
            sqlite_where=text("position IS NULL"),
        ),
    )


class AggregateSequence(Base):
    """The last event sequence number handed out per aggregate."""

    __tablename__ = "aggregate_sequences"

    aggregate_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    aggregate_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    last_sequence: Mapped[int] = mapped_column(Integer, nullable=False)


class OutboxEventAudience(Base):
    """An organization an event concerns, fixed when the event is written.

    The feed of an organization-bound key includes these events, so it keeps
    the ``deleted`` event (and the history) of an agreement or a stand-alone
    research collaboration its organization could see when it was deleted.
    """

    __tablename__ = "outbox_event_audiences"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("outbox_events.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_outbox_event_audiences_event_id", "event_id"),)
