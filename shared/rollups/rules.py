"""Rollup rules (SPEC section 4): pure functions over plain facts, no I/O.

The worker loads the facts of one agreement (its initiatives and their
milestones), calls :func:`agreement_rollup`, and stores the result. The same
facts always give the same rollup, so replaying an event changes nothing.

Choices the SPEC leaves open, made here once:

- Cancelled milestones count nowhere (not in totals, not in the schedule).
- Cancelled initiatives count nowhere either, except in ``initiatives.by_status``.
- An agreement's ``planned`` is the weighted mean (initiative weights) of its
  initiatives' ``planned``, the same basis as its ``progress``: an agreement
  whose every due milestone is done then has ``spi`` 1, whatever the number
  of milestones per initiative.
- ``next_due`` is the earliest open milestone due today or later; overdue
  ones are counted in ``milestones.overdue``.
- Indicators (SPEC section 11): ``indicators.achievement`` is the mean
  achievement of the measured indicators whose achievement is known
  (qualitative ones and those whose target equals the baseline have none);
  an agreement's is taken over the indicators of its non-cancelled
  initiatives, and an objective is covered when a non-cancelled initiative
  or one of their indicators names it. Achievement does not enter health.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from shared.indicators.rules import achievement, mean_achievement
from shared.lifecycle import MILESTONE_CLOSED_STATUSES, milestone_is_overdue

Health = Literal["completed", "not_started", "on_track", "at_risk", "off_track"]
HEALTH_ORDER: tuple[Health, ...] = get_args(Health)
"""From best to worst: an agreement's health is the worst of its parts."""

OFF_TRACK_SPI = 0.8
AT_RISK_SPI = 0.95
OFF_TRACK_DAYS_OVERDUE = 30
DUE_SOON_DAYS = 30


@dataclass(frozen=True)
class MilestoneFacts:
    id: uuid.UUID
    title: str
    due_on: dt.date
    status: str
    weight: int = 1
    updated_at: dt.datetime | None = None


@dataclass(frozen=True)
class IndicatorFacts:
    id: uuid.UUID
    measure: str
    baseline: Any
    target: Any
    latest: Any = None  # the last measured value, None before any measurement
    objective_ref: str | None = None
    updated_at: dt.datetime | None = None

    @property
    def achievement(self) -> float | None:
        return achievement(self.measure, self.baseline, self.target, self.latest)


@dataclass(frozen=True)
class InitiativeFacts:
    id: uuid.UUID
    status: str
    weight: int = 1
    objective_ref: str | None = None
    milestones: Sequence[MilestoneFacts] = ()
    updated_at: dt.datetime | None = None
    indicators: Sequence[IndicatorFacts] = ()


@dataclass(frozen=True)
class AgreementFacts:
    id: uuid.UUID
    status: str
    objective_refs: Sequence[str] = ()
    initiatives: Sequence[InitiativeFacts] = ()
    # Other activity under the agreement (its own edits, engagements, ...).
    activity_at: Sequence[dt.datetime | None] = ()


@dataclass(frozen=True)
class Schedule:
    """The figures health is judged on; also served as the rollup's ``inputs``."""

    progress: float
    planned: float
    spi: float | None
    done: int
    due: int
    overdue: int
    max_days_overdue: int

    def as_inputs(self) -> dict[str, Any]:
        return {
            "progress": self.progress,
            "planned": self.planned,
            "spi": self.spi,
            "milestones_done": self.done,
            "milestones_due": self.due,
            "milestones_overdue": self.overdue,
            "max_days_overdue": self.max_days_overdue,
        }


@dataclass(frozen=True)
class InitiativeRollup:
    initiative_id: uuid.UUID
    status: str
    objective_ref: str | None
    weight: int
    health: str
    schedule: Schedule
    milestones: dict[str, int]
    next_due: dict[str, Any] | None
    last_activity_at: dt.datetime | None
    indicators: dict[str, Any] = field(default_factory=lambda: indicator_summary(()))
    indicator_facts: Sequence[IndicatorFacts] = ()

    def body(self) -> dict[str, Any]:
        return {
            "initiative_id": self.initiative_id,
            "progress": self.schedule.progress,
            "planned": self.schedule.planned,
            "spi": self.schedule.spi,
            "health": self.health,
            "milestones": self.milestones,
            "next_due": self.next_due,
            "last_activity_at": self.last_activity_at,
            "indicators": self.indicators,
            "inputs": {
                **self.schedule.as_inputs(),
                "status": self.status,
                "thresholds": THRESHOLDS,
            },
        }


@dataclass(frozen=True)
class AgreementRollup:
    agreement_id: uuid.UUID
    status: str
    health: str
    schedule: Schedule
    initiatives: list[InitiativeRollup]
    by_status: dict[str, int]
    milestones: dict[str, int]
    next_due: dict[str, Any] | None
    last_activity_at: dt.datetime | None
    objectives: list[dict[str, Any]] = field(default_factory=list)
    uncovered_objectives: list[str] = field(default_factory=list)
    own_health: str = "not_started"
    indicators: dict[str, Any] = field(default_factory=lambda: indicator_summary(()))

    def body(self) -> dict[str, Any]:
        counted = [rollup for rollup in self.initiatives if rollup.status != "cancelled"]
        return {
            "agreement_id": self.agreement_id,
            "progress": self.schedule.progress,
            "planned": self.schedule.planned,
            "spi": self.schedule.spi,
            "health": self.health,
            "initiatives": {"total": len(self.initiatives), "by_status": self.by_status},
            "milestones": self.milestones,
            "next_due": self.next_due,
            "last_activity_at": self.last_activity_at,
            "indicators": self.indicators,
            "objectives": self.objectives,
            "uncovered_objectives": self.uncovered_objectives,
            "inputs": {
                **self.schedule.as_inputs(),
                "status": self.status,
                "schedule_health": self.own_health,
                "initiative_health": _count(rollup.health for rollup in counted),
                "thresholds": THRESHOLDS,
            },
        }


THRESHOLDS = {
    "off_track_spi_below": OFF_TRACK_SPI,
    "at_risk_spi_below": AT_RISK_SPI,
    "off_track_days_overdue_over": OFF_TRACK_DAYS_OVERDUE,
}


# --- milestones ---------------------------------------------------------------


def counted(milestones: Iterable[MilestoneFacts]) -> list[MilestoneFacts]:
    """Milestones that count: cancelled ones are left out."""
    return [milestone for milestone in milestones if milestone.status != "cancelled"]


def is_overdue(milestone: MilestoneFacts, today: dt.date) -> bool:
    return milestone_is_overdue(milestone.status, milestone.due_on, today)


def days_overdue(milestone: MilestoneFacts, today: dt.date) -> int:
    return (today - milestone.due_on).days if is_overdue(milestone, today) else 0


def milestone_counts(milestones: Sequence[MilestoneFacts], today: dt.date) -> dict[str, int]:
    soon = today + dt.timedelta(days=DUE_SOON_DAYS)
    return {
        "total": len(milestones),
        "done": sum(1 for m in milestones if m.status == "done"),
        "overdue": sum(1 for m in milestones if is_overdue(m, today)),
        "due_within_30_days": sum(
            1
            for m in milestones
            if m.status not in MILESTONE_CLOSED_STATUSES and today <= m.due_on <= soon
        ),
    }


def next_due(milestones: Sequence[MilestoneFacts], today: dt.date) -> dict[str, Any] | None:
    upcoming = [
        m for m in milestones if m.status not in MILESTONE_CLOSED_STATUSES and m.due_on >= today
    ]
    if not upcoming:
        return None
    first = min(upcoming, key=lambda m: (m.due_on, str(m.id)))
    return {"id": first.id, "title": first.title, "due_on": first.due_on}


# --- schedule and health ------------------------------------------------------


def milestone_schedule(
    milestones: Sequence[MilestoneFacts], today: dt.date, *, completed: bool
) -> Schedule:
    """Progress and plan of one initiative from its (non-cancelled) milestones."""
    total = sum(m.weight for m in milestones)
    if total:
        progress = sum(m.weight for m in milestones if m.status == "done") / total
        planned = sum(m.weight for m in milestones if m.due_on <= today) / total
    else:
        progress = 1.0 if completed else 0.0
        planned = 0.0
    return _schedule(progress, planned, milestones, today)


def _schedule(
    progress: float, planned: float, milestones: Sequence[MilestoneFacts], today: dt.date
) -> Schedule:
    return Schedule(
        progress=progress,
        planned=planned,
        spi=progress / planned if planned > 0 else None,
        done=sum(1 for m in milestones if m.status == "done"),
        due=sum(1 for m in milestones if m.due_on <= today),
        overdue=sum(1 for m in milestones if is_overdue(m, today)),
        max_days_overdue=max((days_overdue(m, today) for m in milestones), default=0),
    )


def schedule_health(schedule: Schedule) -> str:
    """The health bands of SPEC section 4, for anything not completed."""
    if (schedule.spi is not None and schedule.spi < OFF_TRACK_SPI) or (
        schedule.max_days_overdue > OFF_TRACK_DAYS_OVERDUE
    ):
        return "off_track"
    if (schedule.spi is not None and schedule.spi < AT_RISK_SPI) or schedule.overdue > 0:
        return "at_risk"
    if schedule.done == 0 and schedule.due == 0 and schedule.progress == 0:
        return "not_started"
    return "on_track"


def worst(healths: Iterable[str]) -> str:
    """The worst health of several; ``completed`` when there are none."""
    return max(healths, key=HEALTH_ORDER.index, default="completed")


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def _latest(*moments: dt.datetime | None) -> dt.datetime | None:
    present = [moment for moment in moments if moment is not None]
    return max(present) if present else None


# --- indicators ---------------------------------------------------------------


def indicator_summary(indicators: Iterable[IndicatorFacts]) -> dict[str, Any]:
    """``{total, measured, achievement}``: achievement is the mean of the measured ones'."""
    indicators = list(indicators)
    measured = [indicator for indicator in indicators if indicator.latest is not None]
    return {
        "total": len(indicators),
        "measured": len(measured),
        "achievement": mean_achievement(indicator.achievement for indicator in measured),
    }


# --- rollups ------------------------------------------------------------------


def initiative_rollup(initiative: InitiativeFacts, today: dt.date) -> InitiativeRollup:
    milestones = counted(initiative.milestones)
    completed = initiative.status == "completed"
    schedule = milestone_schedule(milestones, today, completed=completed)
    return InitiativeRollup(
        initiative_id=initiative.id,
        status=initiative.status,
        objective_ref=initiative.objective_ref,
        weight=initiative.weight,
        health="completed" if completed else schedule_health(schedule),
        schedule=schedule,
        milestones=milestone_counts(milestones, today),
        next_due=next_due(milestones, today),
        last_activity_at=_latest(
            initiative.updated_at,
            *(m.updated_at for m in initiative.milestones),
            *(indicator.updated_at for indicator in initiative.indicators),
        ),
        indicators=indicator_summary(initiative.indicators),
        indicator_facts=tuple(initiative.indicators),
    )


def weighted_mean(pairs: Iterable[tuple[float, int]]) -> float:
    pairs = list(pairs)
    total = sum(weight for _, weight in pairs)
    return sum(value * weight for value, weight in pairs) / total if total else 0.0


def agreement_rollup(agreement: AgreementFacts, today: dt.date) -> AgreementRollup:
    """The agreement's rollup and those of all its initiatives."""
    initiatives = [initiative_rollup(initiative, today) for initiative in agreement.initiatives]
    active = [rollup for rollup in initiatives if rollup.status != "cancelled"]
    milestones = [
        milestone
        for initiative in agreement.initiatives
        if initiative.status != "cancelled"
        for milestone in counted(initiative.milestones)
    ]
    progress = weighted_mean((r.schedule.progress, r.weight) for r in active)
    planned = weighted_mean((r.schedule.planned, r.weight) for r in active)
    schedule = _schedule(progress, planned, milestones, today)
    own_health = schedule_health(schedule)
    if agreement.status == "completed":
        health = "completed"
    else:
        health = worst([own_health, *(rollup.health for rollup in active)])
    indicators = [indicator for rollup in active for indicator in rollup.indicator_facts]
    objectives = []
    for ref in agreement.objective_refs:
        serving = [rollup for rollup in active if rollup.objective_ref == ref]
        measuring = [indicator for indicator in indicators if indicator.objective_ref == ref]
        objectives.append(
            {
                "ref": ref,
                "initiatives": len(serving),
                "progress": weighted_mean((r.schedule.progress, r.weight) for r in serving),
                "indicators": len(measuring),
                "achievement": indicator_summary(measuring)["achievement"],
            }
        )
    return AgreementRollup(
        agreement_id=agreement.id,
        status=agreement.status,
        health=health,
        own_health=own_health,
        schedule=schedule,
        initiatives=initiatives,
        by_status=_count(rollup.status for rollup in initiatives),
        milestones=milestone_counts(milestones, today),
        next_due=next_due(milestones, today),
        last_activity_at=_latest(
            *agreement.activity_at, *(rollup.last_activity_at for rollup in initiatives)
        ),
        objectives=objectives,
        uncovered_objectives=[
            o["ref"] for o in objectives if o["initiatives"] == 0 and o["indicators"] == 0
        ],
        indicators=indicator_summary(indicators),
    )
