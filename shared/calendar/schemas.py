"""Public schemas of calendar feeds."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.validation import RequestBody, bounded_text

FeedContent = Literal["milestones", "engagements", "expiries", "reports"]
FEED_CONTENTS: tuple[FeedContent, ...] = ("milestones", "engagements", "expiries", "reports")


class CalendarFeedCreate(RequestBody):
    """A feed of due dates; scope it to one agreement or one organization, or neither."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "STZA-GEI MoU deadlines",
                    "agreement_id": "01936b4e-7c2a-7d61-9a35-2f0c6d1e4b10",
                    "include": ["milestones", "engagements", "expiries", "reports"],
                }
            ]
        },
    )

    name: bounded_text(200)  # type: ignore[valid-type]
    agreement_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    include: list[FeedContent] = Field(
        default_factory=lambda: list(FEED_CONTENTS),
        min_length=1,
        description="What the feed holds; every kind when left out.",
    )

    @model_validator(mode="after")
    def _one_scope(self) -> CalendarFeedCreate:
        if self.agreement_id and self.organization_id:
            raise ValueError("Give agreement_id or organization_id, not both.")
        self.include = list(dict.fromkeys(self.include))
        return self


class CalendarFeedPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    agreement_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    include: list[FeedContent]
    api_key_id: uuid.UUID
    created_at: dt.datetime
    version: int


class CalendarFeedCreated(CalendarFeedPublic):
    """The create answer: ``url`` carries the secret token and is shown only once."""

    url: str = Field(description="The feed's secret address; shown once, stored only as a hash.")
