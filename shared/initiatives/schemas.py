"""Request and response bodies of initiatives and their lifecycle."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.lifecycle import InitiativeStatus
from shared.validation import Patch, RequestBody, bounded_text

Title = bounded_text(500)
ObjectiveRef = bounded_text(20)
# Bounded so that sums of weights stay far from any integer overflow.
MAX_WEIGHT = 10_000


def check_date_order(pairs: list[tuple[str, dt.date | None, str, dt.date | None]]) -> None:
    """Each ``(start_name, start, end_name, end)`` must not end before it starts."""
    for start_name, start, end_name, end in pairs:
        if start and end and end < start:
            raise ValueError(f"{end_name} must not be before {start_name}")


def initiative_date_pairs(
    values: dict[str, dt.date | None],
) -> list[tuple[str, dt.date | None, str, dt.date | None]]:
    return [
        ("planned_start", values.get("planned_start"), "planned_end", values.get("planned_end")),
        ("actual_start", values.get("actual_start"), "actual_end", values.get("actual_end")),
    ]


class InitiativeCreate(RequestBody):
    title: Title  # type: ignore[valid-type]
    description: str | None = Field(default=None, max_length=20_000)
    objective_ref: ObjectiveRef | None = Field(  # type: ignore[valid-type]
        default=None, description="The ref of one of the agreement's objectives, e.g. `O1`."
    )
    lead_organization_id: uuid.UUID = Field(description="A party to the agreement.")
    planned_start: dt.date | None = None
    planned_end: dt.date | None = None
    actual_start: dt.date | None = None
    actual_end: dt.date | None = None
    weight: int = Field(default=1, ge=1, le=MAX_WEIGHT, description="Relative weight in rollups.")

    @model_validator(mode="after")
    def _check_dates(self) -> InitiativeCreate:
        check_date_order(initiative_date_pairs(self.__dict__))
        return self


class InitiativeUpdate(Patch):
    """Fields to change; `status` changes only through transitions."""

    required_fields = ("title", "lead_organization_id", "weight")

    title: Title | None = None  # type: ignore[valid-type]
    description: str | None = Field(default=None, max_length=20_000)
    objective_ref: ObjectiveRef | None = None  # type: ignore[valid-type]
    lead_organization_id: uuid.UUID | None = None
    planned_start: dt.date | None = None
    planned_end: dt.date | None = None
    actual_start: dt.date | None = None
    actual_end: dt.date | None = None
    weight: int | None = Field(default=None, ge=1, le=MAX_WEIGHT)


class InitiativePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    agreement_id: uuid.UUID
    title: str
    description: str | None
    objective_ref: str | None
    lead_organization_id: uuid.UUID
    status: InitiativeStatus
    planned_start: dt.date | None
    planned_end: dt.date | None
    actual_start: dt.date | None
    actual_end: dt.date | None
    weight: int
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class InitiativeTransition(RequestBody):
    to: InitiativeStatus
    reason: str | None = Field(default=None, max_length=2000)
    on: dt.date | None = Field(
        default=None,
        description="When the move took effect; starting sets `actual_start` and completing "
        "sets `actual_end` to it (today when omitted) unless already set.",
    )


def as_public(initiative: object) -> dict[str, object]:
    """The initiative as the API returns it, for events and the audit trail."""
    return InitiativePublic.model_validate(initiative).model_dump(mode="json")
