"""Request and response bodies of periodic reports (SPEC section 11)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.indicators.schemas import Value
from shared.lifecycle import ReportStatus
from shared.validation import Patch, RequestBody

ReportTarget = Literal["submitted", "accepted", "returned"]
MAX_TEXT = 50_000
MAX_MEASUREMENTS = 200

_REPORT_EXAMPLE = {
    "id": "0192f7a0-0000-7000-8000-0000000000c1",
    "agreement_id": "0192f7a0-0000-7000-8000-0000000000b1",
    "reporter_organization_id": "0192f7a0-0000-7000-8000-00000000e1e1",
    "period_start": "2023-10-01",
    "period_end": "2023-12-31",
    "due_on": "2024-01-30",
    "status": "accepted",
    "narrative": "Two training cohorts for STZA policymakers held at GEI's Beijing office.",
    "challenges": "Visa lead times delayed the second cohort by three weeks.",
    "next_steps": "Third cohort and a joint workshop on zone master planning.",
    "measurements": [
        {
            "indicator_id": "0192f7a0-0000-7000-8000-000000000001",
            "value": 35,
            "on": "2023-12-31",
        }
    ],
    "submitted_at": "2024-01-25T10:00:00Z",
    "reviewed_at": "2024-01-29T08:30:00Z",
    "review_comment": "Thank you; accepted.",
    "overdue": False,
    "version": 4,
    "created_at": "2023-10-01T00:01:00Z",
    "updated_at": "2024-01-29T08:30:00Z",
}


class ReportMeasurement(RequestBody):
    """A value a report carries for one of the agreement's indicators."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [_REPORT_EXAMPLE["measurements"][0]]},  # type: ignore[index]
    )

    indicator_id: uuid.UUID
    value: Value
    on: dt.date


class ReportUpdate(Patch):
    """The draft text, while the report is `open` or `returned`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "narrative": _REPORT_EXAMPLE["narrative"],
                    "challenges": _REPORT_EXAMPLE["challenges"],
                    "next_steps": _REPORT_EXAMPLE["next_steps"],
                    "measurements": _REPORT_EXAMPLE["measurements"],
                }
            ]
        },
    )
    required_fields = ("measurements",)

    narrative: str | None = Field(default=None, max_length=MAX_TEXT)
    challenges: str | None = Field(default=None, max_length=MAX_TEXT)
    next_steps: str | None = Field(default=None, max_length=MAX_TEXT)
    measurements: list[ReportMeasurement] | None = Field(
        default=None,
        max_length=MAX_MEASUREMENTS,
        description="Replaces the list; recorded as indicator measurements when accepted.",
    )


class ReportTransition(RequestBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"to": "accepted", "comment": "Thank you; accepted."}]},
    )

    to: ReportTarget
    comment: str | None = Field(
        default=None, max_length=MAX_TEXT, description="The reviewer's comment (accept/return)."
    )


class ReportMeasurementPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [_REPORT_EXAMPLE["measurements"][0]]}  # type: ignore[index]
    )

    indicator_id: uuid.UUID
    value: float | int | str
    on: dt.date


class ReportPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [_REPORT_EXAMPLE]}
    )

    id: uuid.UUID
    agreement_id: uuid.UUID
    reporter_organization_id: uuid.UUID
    period_start: dt.date
    period_end: dt.date
    due_on: dt.date = Field(description="`period_end` + the schedule's `due_days`.")
    status: ReportStatus
    narrative: str | None
    challenges: str | None
    next_steps: str | None
    measurements: list[ReportMeasurementPublic]
    submitted_at: dt.datetime | None
    reviewed_at: dt.datetime | None
    review_comment: str | None
    overdue: bool = Field(description="Open or returned after `due_on`.")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def as_public(report: object) -> dict[str, object]:
    return ReportPublic.model_validate(report).model_dump(mode="json")
