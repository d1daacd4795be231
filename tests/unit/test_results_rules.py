"""Pure rules of results and reporting: indicator achievement and report periods."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from shared.indicators.rules import achievement, fits_measure, mean_achievement
from shared.reports.periods import add_months, period, started_periods

D = dt.date


def test_achievement_is_the_share_of_the_way_from_baseline_to_target() -> None:
    assert achievement("unit", 0, 120, 35) == pytest.approx(35 / 120)


def test_achievement_counts_from_the_baseline_not_from_zero() -> None:
    assert achievement("percentage", 20, 60, 30) == pytest.approx(0.25)


def test_achievement_of_a_decreasing_indicator_grows_as_the_value_falls() -> None:
    assert achievement("percentage", 40, 10, 25) == pytest.approx(0.5)


def test_a_decreasing_indicator_moving_away_from_its_target_achieves_nothing() -> None:
    assert achievement("unit", 40, 10, 55) == 0.0


def test_achievement_beyond_the_target_is_clipped_to_one() -> None:
    assert achievement("unit", 0, 120, 150) == 1.0


def test_achievement_below_the_baseline_is_clipped_to_zero() -> None:
    assert achievement("unit", 10, 120, 5) == 0.0


def test_achievement_is_null_when_nothing_was_measured() -> None:
    assert achievement("unit", 0, 120, None) is None


def test_achievement_is_null_when_the_target_equals_the_baseline() -> None:
    assert achievement("unit", 50, 50, 70) is None


def test_achievement_is_null_for_a_qualitative_indicator() -> None:
    assert achievement("qualitative", "no plan", "plan adopted", "draft plan") is None


def test_achievement_works_with_fractional_values() -> None:
    assert achievement("percentage", 0.5, 1.5, 1.0) == pytest.approx(0.5)


def test_mean_achievement_leaves_unknown_achievements_out() -> None:
    assert mean_achievement([0.25, None, 0.75]) == pytest.approx(0.5)


def test_mean_achievement_of_nothing_known_is_null() -> None:
    assert mean_achievement([None, None]) is None


@pytest.mark.parametrize(
    ("measure", "value", "fits"),
    [
        ("unit", 3, True),
        ("unit", 2.5, True),
        ("percentage", 40, True),
        ("unit", "3", False),
        ("unit", True, False),
        ("qualitative", "draft plan", True),
        ("qualitative", 3, False),
    ],
)
def test_values_must_fit_the_measure(measure, value, fits) -> None:
    assert fits_measure(measure, value) is fits


def test_quarterly_periods_follow_each_other_without_gap() -> None:
    first, second = period("quarterly", D(2024, 1, 1), 0), period("quarterly", D(2024, 1, 1), 1)
    assert (first.start, first.end, second.start, second.end) == (
        D(2024, 1, 1),
        D(2024, 3, 31),
        D(2024, 4, 1),
        D(2024, 6, 30),
    )


def test_periods_may_start_on_any_day() -> None:
    assert period("quarterly", D(2023, 9, 15), 1) == period("quarterly", D(2023, 9, 15), 1)
    assert (
        period("quarterly", D(2023, 9, 15), 1).start,
        period("quarterly", D(2023, 9, 15), 1).end,
    ) == (
        D(2023, 12, 15),
        D(2024, 3, 14),
    )


def test_semiannual_periods_last_six_months() -> None:
    second = period("semiannual", D(2023, 10, 1), 1)
    assert (second.start, second.end) == (D(2024, 4, 1), D(2024, 9, 30))


def test_annual_periods_cross_the_year_end() -> None:
    first = period("annual", D(2023, 9, 4), 0)
    assert (first.start, first.end) == (D(2023, 9, 4), D(2024, 9, 3))


def test_a_month_end_start_is_clamped_in_shorter_months_and_comes_back() -> None:
    starts = [period("quarterly", D(2024, 1, 31), n).start for n in range(4)]
    assert starts == [D(2024, 1, 31), D(2024, 4, 30), D(2024, 7, 31), D(2024, 10, 31)]


def test_the_period_before_a_clamped_start_ends_the_day_before_it() -> None:
    assert period("quarterly", D(2024, 1, 31), 0).end == D(2024, 4, 29)


def test_a_31_january_start_lands_on_the_last_day_of_february() -> None:
    assert add_months(D(2023, 1, 31), 1) == D(2023, 2, 28)
    assert add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)


def test_a_leap_day_start_clamps_to_28_february_and_returns_in_leap_years() -> None:
    starts = [period("annual", D(2024, 2, 29), n).start for n in range(5)]
    assert starts == [
        D(2024, 2, 29),
        D(2025, 2, 28),
        D(2026, 2, 28),
        D(2027, 2, 28),
        D(2028, 2, 29),
    ]


def test_a_period_spanning_a_leap_february_has_its_extra_day() -> None:
    q1 = period("quarterly", D(2024, 1, 1), 0)
    assert (q1.end - q1.start).days + 1 == 91


def test_due_on_is_the_period_end_plus_the_due_days() -> None:
    assert period("quarterly", D(2024, 1, 1), 0).due_on(30) == D(2024, 4, 30)


def test_due_on_with_zero_due_days_is_the_period_end() -> None:
    assert period("annual", D(2024, 1, 1), 0).due_on(0) == D(2024, 12, 31)


def test_started_periods_include_the_one_starting_today() -> None:
    started = list(started_periods("quarterly", D(2024, 1, 1), D(2024, 7, 1)))
    assert [p.start for p in started] == [D(2024, 1, 1), D(2024, 4, 1), D(2024, 7, 1)]


def test_no_period_has_started_before_the_first_period_start() -> None:
    assert list(started_periods("quarterly", D(2024, 1, 1), D(2023, 12, 31))) == []


def test_started_periods_after_a_date_skip_the_earlier_ones() -> None:
    started = list(
        started_periods("quarterly", D(2024, 1, 31), D(2025, 2, 1), after=D(2024, 7, 30))
    )
    assert [p.start for p in started] == [D(2024, 7, 31), D(2024, 10, 31), D(2025, 1, 31)]


@pytest.mark.parametrize("frequency", ["quarterly", "semiannual", "annual"])
@pytest.mark.parametrize("first", [D(2023, 1, 31), D(2024, 2, 29), D(2023, 8, 30), D(2024, 5, 1)])
def test_periods_tile_the_calendar(frequency, first) -> None:
    periods = [period(frequency, first, n) for n in range(12)]
    assert all(b.start == a.end + dt.timedelta(days=1) for a, b in itertools.pairwise(periods))
