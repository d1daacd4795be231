"""Rollup bodies (SPEC section 4)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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


class IndicatorCounts(BaseModel):
    """Indicators (SPEC section 11) of an initiative, or of an agreement's initiatives."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"total": 4, "measured": 4, "achievement": 0.3}]}
    )

    total: int = 0
    measured: int = Field(default=0, description="Indicators with at least one measurement.")
    achievement: float | None = Field(
        default=None,
        description="Mean achievement of the measured indicators that have one (0-1); null "
        "when none has (nothing measured, or only qualitative ones).",
    )


class ObjectiveCoverage(BaseModel):
    ref: str
    initiatives: int = Field(description="Non-cancelled initiatives serving the objective.")
    progress: float
    indicators: int = Field(default=0, description="Indicators naming the objective.")
    achievement: float | None = Field(
        default=None, description="Mean achievement of those indicators."
    )


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
    indicators: IndicatorCounts = Field(default_factory=IndicatorCounts)


class InitiativeRollupPublic(RollupFigures):
    initiative_id: uuid.UUID
    agreement_id: uuid.UUID


class AgreementRollupPublic(RollupFigures):
    agreement_id: uuid.UUID
    initiatives: InitiativeCounts
    objectives: list[ObjectiveCoverage]
    uncovered_objectives: list[str] = Field(
        description="Objective refs no initiative serves and no indicator names."
    )


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
    achievement: float | None = Field(
        default=None,
        description="Mean indicator achievement of the agreements in view that have one (0-1).",
    )
