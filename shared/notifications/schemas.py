"""Public schemas of notification subscriptions and the notification log."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.validation import Patch, RequestBody

Delivery = Literal["immediate", "daily_digest"]
NotificationStatus = Literal["pending", "sent", "failed", "held"]
EventFilter = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=80, pattern=r"^[a-z_]+(\.[a-z_]*)?$"
    ),
]

_EXAMPLE = {
    "contact_id": "01936b4e-7c2a-7d61-9a35-2f0c6d1e4b22",
    "event_types": ["milestone.overdue", "report."],
    "agreement_id": "01936b4e-7c2a-7d61-9a35-2f0c6d1e4b10",
    "delivery": "daily_digest",
}


class SubscriptionCreate(RequestBody):
    """Tell a contact of some events: types or prefixes (`report.`), as webhooks take them."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    contact_id: uuid.UUID
    event_types: list[EventFilter] = Field(
        min_length=1, max_length=50, description="Event types, or prefixes ending in '.'."
    )
    agreement_id: uuid.UUID | None = Field(default=None, description="Only events about it.")
    organization_id: uuid.UUID | None = Field(
        default=None, description="Only events about agreements this organization is party to."
    )
    delivery: Delivery = "immediate"

    @model_validator(mode="after")
    def _one_scope(self) -> SubscriptionCreate:
        if self.agreement_id and self.organization_id:
            raise ValueError("Give agreement_id or organization_id, not both.")
        return self


class SubscriptionUpdate(Patch):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"delivery": "immediate"}]}
    )
    required_fields = ("event_types", "delivery")

    event_types: list[EventFilter] | None = Field(default=None, min_length=1, max_length=50)
    delivery: Delivery | None = None


class SubscriptionPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    **_EXAMPLE,
                    "id": "01936b4e-7c2a-7d61-9a35-2f0c6d1e4b30",
                    "organization_id": None,
                    "version": 1,
                    "created_at": "2026-12-01T09:00:00Z",
                    "updated_at": "2026-12-01T09:00:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    contact_id: uuid.UUID
    event_types: list[str]
    agreement_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    delivery: Delivery
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class NotificationPublic(BaseModel):
    """One entry of the notification log: what was (or will be) emailed to whom, and how it went."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    contact_id: uuid.UUID
    subscription_id: uuid.UUID | None
    agreement_id: uuid.UUID | None
    delivery: Delivery
    subject: str
    status: NotificationStatus
    attempts: int
    last_error: str | None
    send_after: dt.datetime
    sent_at: dt.datetime | None
    message_id: str | None
    created_at: dt.datetime
