"""Rollup bodies (SPEC section 4)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, Field

from shared.rollups.rules import Health


class MilestoneCounts(BaseModel):
    total: int = Field(description="Milestones that count (cancelled ones are left out).")
    done: int
    overdue: int
    due_within_30_days: int


class NextDue(BaseModel):
    id: uuid.UUID
    title: str
    due_on: dt.date


class InitiativeCounts(BaseModel):
    total: int
    by_status: dict[str, int]


class ObjectiveCoverage(BaseModel):
    ref: str
    initiatives: int = Field(description="Non-cancelled initiatives serving the objective.")
    progress: float


class RollupFigures(BaseModel):
    progress: float = Field(description="Weighted share of done milestones (0-1).")
    planned: float = Field(description="Weighted share of milestones due by today (0-1).")
    spi: float | None = Field(description="progress / planned; null while nothing is planned.")
    health: Health
    milestones: MilestoneCounts
    next_due: NextDue | None
    last_activity_at: dt.datetime | None
    computed_at: dt.datetime
    inputs: dict[str, Any] = Field(description="The figures the health was judged on.")


class InitiativeRollupPublic(RollupFigures):
    initiative_id: uuid.UUID
    agreement_id: uuid.UUID


class AgreementRollupPublic(RollupFigures):
    agreement_id: uuid.UUID
    initiatives: InitiativeCounts
    objectives: list[ObjectiveCoverage]
    uncovered_objectives: list[str] = Field(description="Objective refs no initiative serves.")


class PortfolioPublic(BaseModel):
    """Counts over the agreements in view."""

    total: int
    by_health: dict[str, int] = Field(
        description="Agreements per health; `pending` counts those not computed yet."
    )
    by_status: dict[str, int]
    by_country_pair: dict[str, int] = Field(
        description="Agreements per pair of party countries, e.g. `CN-PK` (sorted codes)."
    )
    by_focus_area: dict[str, int]
