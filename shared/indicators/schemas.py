"""Request and response bodies of indicators and their measurements (SPEC section 11)."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from shared.indicators.rules import fits_measure
from shared.validation import TEXT_PATTERN, Patch, RequestBody, bounded_text

Measure = Literal["unit", "percentage", "qualitative"]
Title = bounded_text(500)
Unit = bounded_text(200)
ObjectiveRef = bounded_text(20)
MAX_MAGNITUDE = 1e15


def _finite(value: float | int | str) -> float | int | str:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("a qualitative value cannot be blank")
        return value.strip()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("the value must be a finite number")
    if abs(value) > MAX_MAGNITUDE:
        raise ValueError(f"the value must be between -{MAX_MAGNITUDE:g} and {MAX_MAGNITUDE:g}")
    return value


Value = Annotated[
    Annotated[StrictInt, Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
    | Annotated[StrictFloat, Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
    | Annotated[StrictStr, Field(max_length=2000, pattern=TEXT_PATTERN)],
    AfterValidator(_finite),
    Field(description="A number for `unit` and `percentage` indicators, text for `qualitative`."),
]


def check_fits(measure: str, values: dict[str, Any]) -> None:
    """Raise ValueError naming the first value that does not fit the measure."""
    wanted = "text" if measure == "qualitative" else "a number"
    for name, value in values.items():
        if value is not None and not fits_measure(measure, value):
            raise ValueError(f"{name} must be {wanted} for a {measure} indicator")


class Reading(RequestBody):
    """A value at a date: the baseline or the target of an indicator."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"value": 0, "on": "2023-09-04"}]}
    )

    value: Value
    on: dt.date | None = Field(default=None, description="When it was (or is to be) reached.")


_INDICATOR_EXAMPLE = {
    "title": "Policymakers trained in technology-zone planning",
    "measure": "unit",
    "unit": "policymakers trained",
    "baseline": {"value": 0, "on": "2023-09-04"},
    "target": {"value": 120, "on": "2025-12-31"},
    "objective_ref": "O1",
}


class IndicatorCreate(RequestBody):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_INDICATOR_EXAMPLE]})

    title: Title  # type: ignore[valid-type]
    measure: Measure
    unit: Unit | None = Field(  # type: ignore[valid-type]
        default=None, description="What is counted, e.g. `policymakers trained`."
    )
    baseline: Reading
    target: Reading
    objective_ref: ObjectiveRef | None = Field(  # type: ignore[valid-type]
        default=None, description="The ref of one of the agreement's objectives, e.g. `O1`."
    )

    @model_validator(mode="after")
    def _values_fit_the_measure(self) -> IndicatorCreate:
        check_fits(
            self.measure, {"baseline.value": self.baseline.value, "target.value": self.target.value}
        )
        return self


class IndicatorUpdate(Patch):
    """Fields to change. `measure` can change only while nothing was measured;
    the baseline and target must fit the (new) measure."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"target": {"value": 150}}]}
    )
    required_fields = ("title", "measure", "baseline", "target")

    title: Title | None = None  # type: ignore[valid-type]
    measure: Measure | None = None
    unit: Unit | None = None  # type: ignore[valid-type]
    baseline: Reading | None = None
    target: Reading | None = None
    objective_ref: ObjectiveRef | None = None  # type: ignore[valid-type]


class MeasurementCreate(RequestBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"value": 35, "on": "2024-03-31", "note": "First two training cohorts."}]
        },
    )

    value: Value
    on: dt.date = Field(description="The date the value was measured (not in the future).")
    note: str | None = Field(default=None, max_length=2000)


class MeasurementPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "0192f7a0-0000-7000-8000-000000000035",
                    "indicator_id": "0192f7a0-0000-7000-8000-000000000001",
                    "value": 35,
                    "on": "2024-03-31",
                    "note": "First two training cohorts.",
                    "report_id": None,
                    "created_at": "2024-04-02T09:00:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    indicator_id: uuid.UUID
    value: float | int | str
    on: dt.date
    note: str | None
    report_id: uuid.UUID | None = Field(description="The accepted report that carried it.")
    created_at: dt.datetime


class ReadingPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"value": 0, "on": "2023-09-04"}]})

    value: float | int | str
    on: dt.date | None


class IndicatorPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0192f7a0-0000-7000-8000-000000000001",
                    "initiative_id": "0192f7a0-0000-7000-8000-0000000000a1",
                    "agreement_id": "0192f7a0-0000-7000-8000-0000000000b1",
                    **_INDICATOR_EXAMPLE,
                    "latest": MeasurementPublic.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
                    "achievement": 0.2917,
                    "version": 2,
                    "created_at": "2023-10-12T08:00:00Z",
                    "updated_at": "2024-04-02T09:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    initiative_id: uuid.UUID
    agreement_id: uuid.UUID
    title: str
    measure: Measure
    unit: str | None
    baseline: ReadingPublic
    target: ReadingPublic
    objective_ref: str | None
    latest: MeasurementPublic | None = Field(description="The last measurement (by `on`), or null.")
    achievement: float | None = Field(
        description="(latest - baseline) / (target - baseline), clipped to [0, 1]; null for "
        "qualitative indicators, when the target equals the baseline, or before any measurement."
    )
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
