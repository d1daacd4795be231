"""Request and response bodies of webhook endpoints and deliveries."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StrictBool

from shared.events import EVENT_TYPES
from shared.validation import Patch, RequestBody, bounded_text
from shared.webhooks.rules import TEST_EVENT_TYPE

DeliveryStatus = Literal["pending", "succeeded", "failed"]
_SUBSCRIBABLE = (*EVENT_TYPES, TEST_EVENT_TYPE)


def _known_event_filter(value: str) -> str:
    if value.endswith("."):
        if not any(event_type.startswith(value) for event_type in _SUBSCRIBABLE):
            raise ValueError(f"no event type starts with '{value}'")
    elif value not in _SUBSCRIBABLE:
        raise ValueError(f"'{value}' is not an event type (end a prefix with '.')")
    return value


# Every filter the validator takes: the event types and their prefixes ending in `.`.
_FILTERS = sorted(
    {*_SUBSCRIBABLE}
    | {name[: index + 1] for name in _SUBSCRIBABLE for index, c in enumerate(name) if c == "."}
)
EventFilter = Annotated[
    str,
    Field(
        min_length=1,
        max_length=80,
        description="An event type (`agreement.status_changed`) or a prefix ending in `.`.",
        examples=["agreement."],
        json_schema_extra={"enum": _FILTERS},
    ),
    AfterValidator(_known_event_filter),
]
EventFilters = Annotated[
    list[EventFilter],
    Field(max_length=50, description="Event types or prefixes to receive; empty means all."),
]
TargetUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2048,
        description="Where events are POSTed: https (http only where private targets are allowed).",
        examples=["https://partner.example.gov/hooks/accords"],
    ),
]
Description = bounded_text(1000)


class WebhookEndpointCreate(RequestBody):
    url: TargetUrl
    description: Description | None = None  # type: ignore[valid-type]
    event_types: EventFilters = Field(default_factory=list)
    enabled: StrictBool = True


class WebhookEndpointUpdate(Patch):
    """Fields to change; absent fields stay as they are. Enabling an endpoint
    clears its `disabled_reason` and restarts its failure clock."""

    required_fields = ("url", "event_types", "enabled")

    url: TargetUrl | None = None
    description: Description | None = None  # type: ignore[valid-type]
    event_types: EventFilters | None = None
    enabled: StrictBool | None = None


class WebhookEndpointPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    organization_id: uuid.UUID | None = Field(
        description="Set when created by a key bound to an organization: only events "
        "about that organization's agreements are sent."
    )
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class WebhookEndpointWithSecret(WebhookEndpointPublic):
    """The endpoint with its signing secret: shown only by create and rotate-secret."""

    secret: str = Field(
        description="`whsec_` + base64 of 32 random bytes; keep it, it is not shown again."
    )


class RotateSecretRequest(RequestBody):
    """Optional options of a rotation."""

    expire_previous_now: StrictBool = Field(
        default=False,
        description="Stop signing with the previous secret at once instead of after 24 h.",
    )


class WebhookAttemptPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    status_code: int | None
    duration_ms: int
    error: str | None
    response_body: str | None = Field(description="The first 2 kB of the response body.")


class WebhookDeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID = Field(description="The event id, sent as `webhook-id`.")
    event_type: str
    status: DeliveryStatus
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    attempts: list[WebhookAttemptPublic]


class RecoverRequest(RequestBody):
    since: AwareDatetime = Field(description="Re-send every failed delivery created since then.")


class RecoverResult(BaseModel):
    recovered: int = Field(description="How many failed deliveries were queued again.")
