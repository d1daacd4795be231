"""What the event pipeline stores: rollups, consumed events, dead letters, sweep marks."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Date, Float, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, JSONDocument, UTCDateTime, utcnow
from shared.ids import uuid7


class AgreementRollup(Base):
    """The stored rollup of one agreement (SPEC section 4), recomputed by the worker."""

    __tablename__ = "agreement_rollups"

    agreement_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    health: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    last_activity_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # The day the figures were computed for: overdue and planned move with the date.
    computed_on: Mapped[dt.date] = mapped_column(Date, nullable=False, index=True)
    # Mean indicator achievement (also in the body), for the portfolio's mean.
    achievement: Mapped[float | None] = mapped_column(Float)
    body: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    # The rollup as its route answers it (shared.rendered); null until written.
    rendered: Mapped[str | None] = mapped_column(Text, deferred=True)


class InitiativeRollup(Base):
    """The stored rollup of one initiative, recomputed with its agreement's."""

    __tablename__ = "initiative_rollups"

    initiative_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    agreement_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, index=True)
    health: Mapped[str] = mapped_column(String(20), nullable=False)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    body: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    # The rollup as its route answers it (shared.rendered); null until written.
    rendered: Mapped[str | None] = mapped_column(Text, deferred=True)


class ProcessedEvent(Base):
    """An event a consumer has handled, written in the consumer's own transaction.

    A redelivered event finds its row and is skipped, so consumers with side
    effects (webhook fan-out) run once per event however often it arrives.
    """

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(80), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    processed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_processed_events_event_id", "event_id"),)


class DeadLetter(Base):
    """A message that failed every retry: kept for an operator to look at and replay."""

    __tablename__ = "dead_letters"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    actor_name: Mapped[str] = mapped_column(String(120), nullable=False)
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    message_id: Mapped[str] = mapped_column(String(64), nullable=False)
    retries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    message: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    failed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    replayed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SweepMark(Base):
    """That the sweep already emitted a notice, so it emits each one once.

    ``kind`` is the event type; ``mark`` tells occurrences apart where one
    subject can have several (``30:2027-01-31`` for the 30-day expiry notice
    of that expiry date).
    """

    __tablename__ = "sweep_marks"

    kind: Mapped[str] = mapped_column(String(80), primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    mark: Mapped[str] = mapped_column(String(80), primary_key=True)
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    marked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
