"""Reminders that reach people: calendar feeds (and, with contacts, email notifications)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, JSONDocument, UTCDateTime, utcnow
from shared.ids import uuid7


class CalendarFeed(Base):
    """A secret iCalendar URL; it sees exactly what the key that created it sees.

    Only the SHA-256 of the URL's token is stored, like an api key. Deleting
    the creating key deletes the feed (ON DELETE CASCADE), so its URL answers 404.
    """

    __tablename__ = "calendar_feeds"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    agreement_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("agreements.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    include: Mapped[list[str]] = mapped_column(JSONDocument, nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    api_key_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
