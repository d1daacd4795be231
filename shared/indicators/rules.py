"""Indicator rules (SPEC section 11): pure functions, no I/O.

``achievement`` = (latest - baseline) / (target - baseline), clipped to
[0, 1]. The same formula serves increasing and decreasing indicators: for a
target below the baseline both differences are negative, so going down
towards the target counts as progress and going up as none.

It is ``None`` (unknown, never 0) when the indicator is qualitative, when
nothing was measured, or when the target equals the baseline (there is no
distance to cover, so no share of it can be said to be covered).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Measure = Literal["unit", "percentage", "qualitative"]
MEASURES: tuple[str, ...] = ("unit", "percentage", "qualitative")
NUMERIC_MEASURES: tuple[str, ...] = ("unit", "percentage")

Value = float | int | str


def is_number(value: object) -> bool:
    """A JSON number (booleans are not numbers here, even though Python says so)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def fits_measure(measure: str, value: object) -> bool:
    """Numbers for `unit` and `percentage`, text for `qualitative`."""
    if measure in NUMERIC_MEASURES:
        return is_number(value)
    return isinstance(value, str)


def achievement(
    measure: str, baseline: Value | None, target: Value | None, latest: Value | None
) -> float | None:
    """The share of the way from baseline to target the latest measurement covers."""
    if measure not in NUMERIC_MEASURES or latest is None:
        return None
    if not (is_number(baseline) and is_number(target) and is_number(latest)):
        return None
    distance = float(target) - float(baseline)  # type: ignore[arg-type]
    if distance == 0:
        return None
    share = (float(latest) - float(baseline)) / distance  # type: ignore[arg-type]
    return min(1.0, max(0.0, share))


def mean_achievement(achievements: Iterable[float | None]) -> float | None:
    """The mean of the known achievements; ``None`` when none is known."""
    known = [value for value in achievements if value is not None]
    return sum(known) / len(known) if known else None
