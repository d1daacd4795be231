"""Rollup formulas with indicators (SPEC sections 4 and 11) on hand-computed cases."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from shared.rollups.rules import (
    AgreementFacts,
    IndicatorFacts,
    InitiativeFacts,
    agreement_rollup,
    initiative_rollup,
)

TODAY = dt.date(2026, 6, 15)


def indicator(
    latest=None, *, baseline=0, target=100, measure="unit", ref: str | None = None
) -> IndicatorFacts:
    return IndicatorFacts(
        id=uuid.uuid4(),
        measure=measure,
        baseline=baseline,
        target=target,
        latest=latest,
        objective_ref=ref,
    )


def initiative(*indicators, status="in_progress", ref=None) -> InitiativeFacts:
    return InitiativeFacts(id=uuid.uuid4(), status=status, objective_ref=ref, indicators=indicators)


def agreement(*initiatives, refs=("O1", "O2")) -> AgreementFacts:
    return AgreementFacts(
        id=uuid.uuid4(), status="active", objective_refs=refs, initiatives=initiatives
    )


def test_an_initiative_counts_its_indicators_and_the_measured_ones() -> None:
    rollup = initiative_rollup(initiative(indicator(35), indicator()), TODAY)
    assert (rollup.indicators["total"], rollup.indicators["measured"]) == (2, 1)


def test_initiative_achievement_is_the_mean_of_the_measured_indicators() -> None:
    rollup = initiative_rollup(initiative(indicator(20), indicator(60), indicator()), TODAY)
    assert rollup.indicators["achievement"] == pytest.approx(0.4)


def test_a_qualitative_measurement_counts_as_measured_but_not_in_the_mean() -> None:
    rollup = initiative_rollup(
        initiative(
            indicator(50),
            indicator("draft plan", baseline="none", target="adopted", measure="qualitative"),
        ),
        TODAY,
    )
    assert rollup.indicators == {"total": 2, "measured": 2, "achievement": 0.5}


def test_achievement_is_null_with_nothing_measured() -> None:
    rollup = initiative_rollup(initiative(indicator()), TODAY)
    assert rollup.indicators == {"total": 1, "measured": 0, "achievement": None}


def test_the_agreement_averages_the_indicators_of_all_its_initiatives() -> None:
    rollup = agreement_rollup(
        agreement(initiative(indicator(20)), initiative(indicator(60), indicator(100))), TODAY
    )
    assert rollup.indicators["achievement"] == pytest.approx(0.6)
    assert rollup.body()["indicators"]["total"] == 3


def test_a_cancelled_initiatives_indicators_are_left_out_of_the_agreement() -> None:
    rollup = agreement_rollup(
        agreement(initiative(indicator(20)), initiative(indicator(100), status="cancelled")), TODAY
    )
    assert rollup.indicators == {"total": 1, "measured": 1, "achievement": pytest.approx(0.2)}


def test_an_objective_named_only_by_an_indicator_is_covered() -> None:
    rollup = agreement_rollup(agreement(initiative(indicator(35, ref="O2"), ref="O1")), TODAY)
    assert rollup.uncovered_objectives == []
    assert rollup.objectives[1]["indicators"] == 1
    assert rollup.objectives[1]["achievement"] == pytest.approx(0.35)


def test_an_objective_named_by_nothing_stays_uncovered() -> None:
    rollup = agreement_rollup(agreement(initiative(indicator(35), ref="O1")), TODAY)
    assert rollup.uncovered_objectives == ["O2"]


def test_the_initiative_body_carries_its_indicators() -> None:
    body = initiative_rollup(initiative(indicator(35)), TODAY).body()
    assert body["indicators"] == {"total": 1, "measured": 1, "achievement": pytest.approx(0.35)}
