"""Request and response bodies of engagements."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.validation import Patch, RequestBody, bounded_text

EngagementKind = Literal[
    "signing_ceremony",
    "delegation_visit",
    "meeting",
    "workshop",
    "training",
    "conference",
]
Title = bounded_text(500)
Location = bounded_text(500)
Outcome = bounded_text(2000)


def _unique(organization_ids: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
    if organization_ids is not None and len(set(organization_ids)) != len(organization_ids):
        raise ValueError("an organization is listed twice")
    return organization_ids


def check_dates(starts_on: dt.date | None, ends_on: dt.date | None) -> None:
    if starts_on and ends_on and ends_on < starts_on:
        raise ValueError("ends_on must not be before starts_on")


class EngagementCreate(RequestBody):
    agreement_id: uuid.UUID
    kind: EngagementKind
    title: Title  # type: ignore[valid-type]
    starts_on: dt.date
    ends_on: dt.date | None = None
    location: Location | None = None  # type: ignore[valid-type]
    host_organization_id: uuid.UUID | None = None
    participant_organization_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    summary: str | None = Field(default=None, max_length=20_000)
    outcomes: list[Outcome] = Field(  # type: ignore[valid-type]
        default_factory=list,
        max_length=100,
        description="What was decided; an outcome that becomes work is recorded as a "
        "milestone with this engagement's `engagement_id`.",
    )

    _participants_unique = field_validator("participant_organization_ids")(_unique)

    @model_validator(mode="after")
    def _check_dates(self) -> EngagementCreate:
        check_dates(self.starts_on, self.ends_on)
        return self


class EngagementUpdate(Patch):
    """Fields to change; `agreement_id` is fixed at creation."""

    required_fields = ("kind", "title", "starts_on", "participant_organization_ids", "outcomes")

    kind: EngagementKind | None = None
    title: Title | None = None  # type: ignore[valid-type]
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    location: Location | None = None  # type: ignore[valid-type]
    host_organization_id: uuid.UUID | None = None
    participant_organization_ids: list[uuid.UUID] | None = Field(default=None, max_length=100)
    summary: str | None = Field(default=None, max_length=20_000)
    outcomes: list[Outcome] | None = Field(default=None, max_length=100)  # type: ignore[valid-type]

    _participants_unique = field_validator("participant_organization_ids")(_unique)


class EngagementPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    agreement_id: uuid.UUID
    kind: EngagementKind
    title: str
    starts_on: dt.date
    ends_on: dt.date | None
    location: str | None
    host_organization_id: uuid.UUID | None
    participant_organization_ids: list[uuid.UUID]
    summary: str | None
    outcomes: list[str]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def as_public(engagement: object) -> dict[str, object]:
    return EngagementPublic.model_validate(engagement).model_dump(mode="json")
