"""Reminders that reach people: calendar feeds (and, with contacts, email notifications)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, JSONDocument, UTCDateTime, utcnow
from shared.ids import uuid7
from shared.models.mixins import VersionedResource


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


class NotificationSubscription(VersionedResource, Base):
    """A contact's wish to be told of some events, at once or in a daily digest."""

    __tablename__ = "notification_subscriptions"

    contact_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    event_types: Mapped[list[str]] = mapped_column(JSONDocument, nullable=False, default=list)
    agreement_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("agreements.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    delivery: Mapped[str] = mapped_column(String(20), nullable=False, default="immediate")


class NotificationOptOut(Base):
    """An unsubscribe, remembered per contact and scope and honoured by every later default.

    ``scope`` is ``agreement:<id>`` (the default reminders of one agreement),
    ``subscription:<id>`` or ``all``.
    """

    __tablename__ = "notification_opt_outs"

    contact_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(String(60), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Notification(Base):
    """One thing to tell one contact about one event: written by the worker, then mailed.

    Unique per (event, contact), so a replayed event writes nothing more. The
    mail pump claims due rows with a lease (``claimed_until``) and records the
    server's acceptance in one statement; a row marked ``sent`` is never sent again.
    """

    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    event_type: Mapped[str] = mapped_column(String(80), nullable=False)
    contact_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("notification_subscriptions.id", ondelete="SET NULL")
    )
    agreement_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("agreements.id", ondelete="SET NULL"), index=True
    )
    scope: Mapped[str] = mapped_column(String(60), nullable=False)
    delivery: Mapped[str] = mapped_column(String(20), nullable=False)
    subject: Mapped[str] = mapped_column(String(500), nullable=False)
    # The notice as rendered data (headline, details, due date, link): no contact data.
    notice: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    send_after: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    message_id: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("event_id", "contact_id"),)
