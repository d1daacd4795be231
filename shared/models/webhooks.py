"""Webhook endpoints, their deliveries and each delivery's attempts."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, JSONDocument, UTCDateTime, utcnow
from shared.ids import uuid7
from shared.models.mixins import VersionedResource


class WebhookEndpoint(VersionedResource, Base):
    """A receiver of events. Secrets are stored sealed (shared/secret_box.py).

    ``last_success_at`` and ``failing_since`` are delivery bookkeeping written
    by the worker with plain UPDATEs, so they neither bump ``version`` nor
    race the optimistic lock of someone editing the endpoint.
    """

    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(JSONDocument, nullable=False, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    secret_sealed: Mapped[str] = mapped_column(Text, nullable=False)
    previous_secret_sealed: Mapped[str | None] = mapped_column(Text)
    previous_secret_valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The organization of the api key that created it: such an endpoint sees
    # only events about that organization's agreements. Null = everything.
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    created_by_api_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """One event for one endpoint. The body is stored as sent, so every retry
    and replay carries the same bytes and the same ``webhook-id``."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
    )
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    event_type: Mapped[str] = mapped_column(String(80), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    # Attempts made since the schedule last (re)started; a manual retry resets it.
    scheduled_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # When the next attempt is due. While a worker sends, it is pushed out by a
    # lease, so a worker killed mid-send leaves the delivery due again later.
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    attempts: Mapped[list[WebhookAttempt]] = relationship(
        back_populates="delivery",
        cascade="all, delete-orphan",
        lazy="raise",
        order_by="WebhookAttempt.at",
    )

    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    )


class WebhookAttempt(Base):
    """One HTTP try of a delivery."""

    __tablename__ = "webhook_attempts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False, index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    error: Mapped[str | None] = mapped_column(String(1000))
    response_body: Mapped[str | None] = mapped_column(Text)

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="attempts", lazy="raise")
