"""An agreement's reporting schedule: its schema, validation and stored form.

The agreement service calls :func:`check_reporting` / :func:`check_reporting_change`
to validate and :func:`stored_reporting` to store; everything else about
schedules (periods, opening reports) lives in this package.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import InvalidReference
from shared.reports.periods import Frequency

MAX_DUE_DAYS = 366


class ReportingSchedule(BaseModel):
    """When the partner reports: one report per period, due `due_days` after it ends."""

    model_config = ConfigDict(
        extra="forbid",
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "frequency": "quarterly",
                    "first_period_start": "2023-10-01",
                    "due_days": 30,
                    "reporter_organization_id": "0192f7a0-0000-7000-8000-00000000e1e1",
                }
            ]
        },
    )

    frequency: Frequency
    first_period_start: dt.date = Field(
        description="The first day of the first period; later periods start on the same day "
        "of the month (clamped to the month's last day: 31 Jan -> 30 Apr -> 31 Jul)."
    )
    due_days: int = Field(
        default=30, ge=0, le=MAX_DUE_DAYS, description="Days after a period ends its report is due."
    )
    reporter_organization_id: uuid.UUID = Field(
        description="The party that owes the reports (a party to the agreement)."
    )


def check_reporting(reporting: ReportingSchedule | None, party_ids: Iterable[uuid.UUID]) -> None:
    """422 unless the reporter is one of the parties."""
    if reporting is None:
        return
    if reporting.reporter_organization_id not in set(party_ids):
        raise InvalidReference(
            f"Organization {reporting.reporter_organization_id} is not a party to the "
            "agreement; the reporter must be one.",
            errors=[
                {
                    "loc": ["body", "reporting", "reporter_organization_id"],
                    "msg": "not a party to the agreement",
                }
            ],
        )


def check_reporting_change(agreement: Any, payload: Any) -> None:
    """Check the schedule an agreement PATCH leaves: its own, or the new one,
    against the parties the PATCH leaves."""
    fields = payload.model_fields_set
    reporting = (
        payload.reporting
        if "reporting" in fields
        else (
            ReportingSchedule.model_validate(agreement.reporting) if agreement.reporting else None
        )
    )
    parties = payload.parties if payload.parties is not None else agreement.parties
    check_reporting(reporting, (party.organization_id for party in parties))


def stored_reporting(reporting: ReportingSchedule | dict[str, Any] | None) -> dict[str, Any] | None:
    """The schedule as the agreements table keeps it (JSON), or None."""
    if reporting is None:
        return None
    return ReportingSchedule.model_validate(reporting).model_dump(mode="json")
