"""Rollup formulas (SPEC section 4) on hand-computed cases."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from shared.rollups.rules import (
    AgreementFacts,
    InitiativeFacts,
    MilestoneFacts,
    agreement_rollup,
    initiative_rollup,
    worst,
)

TODAY = dt.date(2026, 6, 15)


def milestone(
    status: str = "pending", *, due_days: int = 10, weight: int = 1, title: str = "m"
) -> MilestoneFacts:
    """A milestone due ``due_days`` after TODAY (negative: in the past)."""
    return MilestoneFacts(
        id=uuid.uuid4(),
        title=title,
        due_on=TODAY + dt.timedelta(days=due_days),
        status=status,
        weight=weight,
    )


def initiative(
    *milestones: MilestoneFacts,
    status: str = "in_progress",
    weight: int = 1,
    ref: str | None = None,
) -> InitiativeFacts:
    return InitiativeFacts(
        id=uuid.uuid4(), status=status, weight=weight, objective_ref=ref, milestones=milestones
    )


def agreement(
    *initiatives: InitiativeFacts, status: str = "active", refs: tuple[str, ...] = ()
) -> AgreementFacts:
    return AgreementFacts(
        id=uuid.uuid4(), status=status, objective_refs=refs, initiatives=initiatives
    )


def test_initiative_progress_weighs_milestones():
    rollup = initiative_rollup(
        initiative(milestone("done", weight=3), milestone("pending", weight=1)), TODAY
    )
    assert rollup.schedule.progress == pytest.approx(0.75)


def test_cancelled_milestones_are_left_out_of_progress_and_totals():
    rollup = initiative_rollup(
        initiative(milestone("done"), milestone("cancelled", weight=5, due_days=-100)), TODAY
    )
    assert (rollup.schedule.progress, rollup.milestones["total"]) == (1.0, 1)


def test_initiative_without_milestones_is_done_only_when_completed():
    progress = [
        initiative_rollup(initiative(status=status), TODAY).schedule.progress
        for status in ("completed", "in_progress")
    ]
    assert progress == [1.0, 0.0]


def test_planned_counts_milestones_due_on_or_before_today():
    rollup = initiative_rollup(
        initiative(
            milestone("done", due_days=0, weight=2),
            milestone("done", due_days=-1, weight=1),
            milestone("pending", due_days=1, weight=1),
        ),
        TODAY,
    )
    assert rollup.schedule.planned == pytest.approx(0.75)


def test_spi_is_progress_over_planned():
    # progress 1/4, planned 2/4: spi 0.5.
    rollup = initiative_rollup(
        initiative(
            milestone("done", due_days=0),
            milestone("pending", due_days=0),
            milestone("pending", due_days=9),
            milestone("pending", due_days=9),
        ),
        TODAY,
    )
    assert rollup.schedule.spi == pytest.approx(0.5)


def test_spi_is_null_when_nothing_is_planned_yet():
    rollup = initiative_rollup(initiative(milestone("done", due_days=3)), TODAY)
    assert rollup.schedule.spi is None


def test_completed_initiative_is_completed_whatever_its_schedule():
    rollup = initiative_rollup(
        initiative(milestone("pending", due_days=-90), status="completed"), TODAY
    )
    assert rollup.health == "completed"


def test_spi_below_0_8_is_off_track():
    # 3 of 4 due, 2 done (one early): progress 0.5, planned 0.75, spi 0.667.
    rollup = initiative_rollup(
        initiative(
            milestone("done", due_days=0),
            milestone("done", due_days=0),
            milestone("in_progress", due_days=0),
            milestone("pending", due_days=5),
        ),
        TODAY,
    )
    assert rollup.health == "off_track"


def test_a_milestone_overdue_by_more_than_30_days_is_off_track():
    # spi = (9/10) / (10/10) = 0.9 would only be at risk.
    done = [milestone("done", due_days=-1) for _ in range(9)]
    rollup = initiative_rollup(initiative(*done, milestone("pending", due_days=-31)), TODAY)
    assert rollup.health == "off_track"


def test_spi_between_0_8_and_0_95_is_at_risk():
    # progress 9/10 after everything was due today: spi 0.9, nothing overdue yet.
    done = [milestone("done", due_days=0) for _ in range(9)]
    rollup = initiative_rollup(initiative(*done, milestone("pending", due_days=0)), TODAY)
    assert rollup.health == "at_risk"


def test_any_overdue_milestone_is_at_risk():
    # spi = (19/20) / 1 = 0.95 is fine; the one overdue milestone is not.
    done = [milestone("done", due_days=-1) for _ in range(19)]
    rollup = initiative_rollup(initiative(*done, milestone("pending", due_days=-30)), TODAY)
    assert rollup.health == "at_risk"


def test_nothing_done_and_nothing_due_is_not_started():
    rollup = initiative_rollup(initiative(milestone("pending", due_days=20)), TODAY)
    assert rollup.health == "not_started"


def test_work_ahead_of_plan_is_on_track():
    rollup = initiative_rollup(
        initiative(milestone("done", due_days=-2), milestone("done", due_days=20)), TODAY
    )
    assert rollup.health == "on_track"


def test_agreement_progress_is_the_weighted_mean_of_initiatives():
    # (1.0 * 3 + 0.0 * 1) / 4
    rollup = agreement_rollup(
        agreement(
            initiative(milestone("done"), weight=3),
            initiative(milestone("pending"), weight=1),
        ),
        TODAY,
    )
    assert rollup.schedule.progress == pytest.approx(0.75)


def test_cancelled_initiatives_are_left_out_of_agreement_progress():
    rollup = agreement_rollup(
        agreement(
            initiative(milestone("done")),
            initiative(milestone("pending", due_days=-60), status="cancelled", weight=9),
        ),
        TODAY,
    )
    assert (rollup.schedule.progress, rollup.health) == (1.0, "on_track")


def test_agreement_without_initiatives_has_no_progress_and_has_not_started():
    rollup = agreement_rollup(agreement(), TODAY)
    assert (rollup.schedule.progress, rollup.health) == (0.0, "not_started")


def test_agreement_health_is_the_worst_of_its_initiatives():
    rollup = agreement_rollup(
        agreement(
            initiative(milestone("done", due_days=-1), weight=10),
            initiative(
                *[milestone("done", due_days=-1) for _ in range(19)],
                milestone("pending", due_days=-3),
            ),
        ),
        TODAY,
    )
    assert rollup.health == "at_risk"


def test_agreement_health_counts_its_own_schedule():
    # Initiatives: A is not started (nothing due), B completed. The agreement
    # as a whole: progress 0.5, nothing due: on track, worse than both.
    rollup = agreement_rollup(
        agreement(
            initiative(milestone("pending", due_days=20)),
            initiative(milestone("done", due_days=10), status="completed"),
        ),
        TODAY,
    )
    assert (rollup.own_health, rollup.health) == ("on_track", "on_track")


def test_completed_agreement_is_completed():
    rollup = agreement_rollup(
        agreement(initiative(milestone("pending", due_days=-90)), status="completed"), TODAY
    )
    assert rollup.health == "completed"


def test_objective_coverage_lists_uncovered_refs():
    rollup = agreement_rollup(
        agreement(
            initiative(milestone("done"), ref="O1"),
            initiative(milestone("pending"), ref="O1"),
            initiative(milestone("done"), ref="O3", status="cancelled"),
            refs=("O1", "O2", "O3"),
        ),
        TODAY,
    )
    assert rollup.uncovered_objectives == ["O2", "O3"]


def test_objective_progress_is_the_mean_of_its_initiatives():
    rollup = agreement_rollup(
        agreement(
            initiative(milestone("done"), ref="O1"),
            initiative(milestone("pending"), ref="O1"),
            refs=("O1",),
        ),
        TODAY,
    )
    coverage = rollup.objectives[0]
    assert (coverage["ref"], coverage["initiatives"], coverage["progress"]) == ("O1", 2, 0.5)


def test_milestone_counts_overdue_and_due_soon():
    rollup = initiative_rollup(
        initiative(
            milestone("pending", due_days=-1),
            milestone("pending", due_days=0),
            milestone("pending", due_days=30),
            milestone("pending", due_days=31),
            milestone("done", due_days=5),
        ),
        TODAY,
    )
    assert rollup.milestones == {"total": 5, "done": 1, "overdue": 1, "due_within_30_days": 2}


def test_next_due_is_the_earliest_open_milestone_not_yet_past():
    soon = milestone("pending", due_days=3, title="soon")
    rollup = initiative_rollup(
        initiative(
            milestone("pending", due_days=-3), milestone("done", due_days=1), soon, milestone()
        ),
        TODAY,
    )
    assert rollup.next_due == {"id": soon.id, "title": "soon", "due_on": soon.due_on}


def test_worst_orders_health_bands():
    assert worst(["completed", "not_started", "on_track", "at_risk"]) == "at_risk"
