"""Request and response bodies of milestones."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.initiatives.schemas import MAX_WEIGHT
from shared.lifecycle import MilestoneStatus
from shared.validation import Patch, RequestBody, bounded_text

Title = bounded_text(500)


class MilestoneCreate(RequestBody):
    title: Title  # type: ignore[valid-type]
    due_on: dt.date
    status: MilestoneStatus = "pending"
    completed_on: dt.date | None = Field(
        default=None, description="Only with status `done`; today when omitted."
    )
    weight: int = Field(default=1, ge=1, le=MAX_WEIGHT, description="Relative weight in rollups.")
    engagement_id: uuid.UUID | None = Field(
        default=None,
        description="The engagement (meeting, visit, ...) of the same agreement that decided it.",
    )

    @model_validator(mode="after")
    def _completed_only_when_done(self) -> MilestoneCreate:
        if self.completed_on is not None and self.status != "done":
            raise ValueError("completed_on can be given only with status done")
        return self


class MilestoneUpdate(Patch):
    """Fields to change. Setting `status` to `done` sets `completed_on` (today
    unless given); setting it to anything else clears it."""

    required_fields = ("title", "due_on", "status", "weight")

    title: Title | None = None  # type: ignore[valid-type]
    due_on: dt.date | None = None
    status: MilestoneStatus | None = None
    completed_on: dt.date | None = None
    weight: int | None = Field(default=None, ge=1, le=MAX_WEIGHT)
    engagement_id: uuid.UUID | None = None


class MilestonePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    initiative_id: uuid.UUID
    agreement_id: uuid.UUID
    title: str
    due_on: dt.date
    status: MilestoneStatus
    completed_on: dt.date | None
    weight: int
    engagement_id: uuid.UUID | None
    overdue: bool = Field(description="Not done or cancelled, and `due_on` is before today.")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def as_public(milestone: object) -> dict[str, object]:
    return MilestonePublic.model_validate(milestone).model_dump(mode="json")
