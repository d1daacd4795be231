"""Indicator use cases: what an initiative measures, and the measurements.

Functions flush; the request boundary commits. Every change records its
event on the agreement's aggregate, so the rollup worker recomputes the
agreement (and its initiatives) from the source rows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shared.agreements.visibility import under_visible_agreements
from shared.clock import today
from shared.errors import Conflict, InvalidReference
from shared.events import Actor, Aggregate, record_change
from shared.ids import uuid7
from shared.indicators.facts import LATEST_FIRST
from shared.indicators.rules import achievement
from shared.indicators.schemas import (
    IndicatorCreate,
    IndicatorPublic,
    IndicatorUpdate,
    MeasurementCreate,
    MeasurementPublic,
    check_fits,
)
from shared.models import Agreement, Indicator, Initiative, Measurement
from shared.rows import one_or_404, rows_after
from shared.statements import run_statement


def _aggregate(indicator: Indicator) -> Aggregate:
    return Aggregate("agreement", indicator.agreement_id)


def _visible(query: Select[Any], organization_id: uuid.UUID | None) -> Select[Any]:
    return under_visible_agreements(query, Indicator.agreement_id, organization_id)


def public(indicator: Indicator, latest: Measurement | None) -> IndicatorPublic:
    """The indicator as the API shows it, with its latest measurement and achievement."""
    latest_value = latest.value if latest is not None else None
    return IndicatorPublic(
        id=indicator.id,
        initiative_id=indicator.initiative_id,
        agreement_id=indicator.agreement_id,
        title=indicator.title,
        measure=indicator.measure,  # type: ignore[arg-type]
        unit=indicator.unit,
        baseline=indicator.baseline,  # type: ignore[arg-type]
        target=indicator.target,  # type: ignore[arg-type]
        objective_ref=indicator.objective_ref,
        latest=MeasurementPublic.model_validate(latest) if latest is not None else None,
        achievement=achievement(
            indicator.measure,
            indicator.baseline.get("value"),
            indicator.target.get("value"),
            latest_value,
        ),
        version=indicator.version,
        created_at=indicator.created_at,
        updated_at=indicator.updated_at,
    )


def as_public(indicator: Indicator, latest: Measurement | None) -> dict[str, Any]:
    return public(indicator, latest).model_dump(mode="json")


async def get_indicator(
    session: AsyncSession,
    indicator_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None = None,
    for_update: bool = False,
) -> Indicator:
    """The indicator; 404 also when the caller may not see its agreement."""
    query = _visible(select(Indicator).where(Indicator.id == indicator_id), organization_id)
    missing = f"Indicator {indicator_id} does not exist."
    return await one_or_404(session, query, missing=missing, lock=Indicator if for_update else None)


_MEASUREMENTS = Measurement.__table__

# Built once: every measurement and every indicator read asks it.
_LATEST_OF = (
    select(*Measurement.__table__.columns)
    .where(Measurement.indicator_id == bindparam("indicator_id"))
    .order_by(*LATEST_FIRST)
    .limit(1)
)


async def latest_measurement(session: AsyncSession, indicator_id: uuid.UUID) -> Any | None:
    """The indicator's last measurement (by date, then recording order) as a row
    with a measurement's fields, or None."""
    rows = await run_statement(session, _LATEST_OF, {"indicator_id": indicator_id})
    return rows[0] if rows else None


async def latest_measurements(
    session: AsyncSession, indicator_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Measurement]:
    """The last measurement (by date, then recording order) of each indicator, in one query."""
    if not indicator_ids:
        return {}
    ranked = (
        select(
            Measurement,
            func.row_number()
            .over(partition_by=Measurement.indicator_id, order_by=LATEST_FIRST)
            .label("rank"),
        )
        .where(Measurement.indicator_id.in_(indicator_ids))
        .subquery()
    )
    latest = aliased(Measurement, ranked)
    rows = (await session.scalars(select(latest).where(ranked.c.rank == 1))).all()
    return {row.indicator_id: row for row in rows}


async def read_indicator(
    session: AsyncSession, indicator_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> IndicatorPublic:
    indicator = await get_indicator(session, indicator_id, organization_id=organization_id)
    return public(indicator, await latest_measurement(session, indicator.id))


async def list_indicators(
    session: AsyncSession,
    *,
    after: uuid.UUID | None,
    limit: int,
    organization_scope: uuid.UUID | None,
    initiative_id: uuid.UUID | None = None,
    agreement_id: uuid.UUID | None = None,
    objective_ref: str | None = None,
) -> list[IndicatorPublic]:
    """Up to ``limit + 1`` indicators after ``after``, in creation order, as the API shows them."""
    query = _visible(select(Indicator), organization_scope)
    if initiative_id:
        query = query.where(Indicator.initiative_id == initiative_id)
    if agreement_id:
        query = query.where(Indicator.agreement_id == agreement_id)
    if objective_ref:
        query = query.where(Indicator.objective_ref == objective_ref)
    indicators = await rows_after(session, query, Indicator.id, after=after, limit=limit)
    latest = await latest_measurements(session, [indicator.id for indicator in indicators])
    return [public(indicator, latest.get(indicator.id)) for indicator in indicators]


def check_objective(agreement: Agreement, objective_ref: str | None) -> None:
    if objective_ref is None:
        return
    refs = [objective["ref"] for objective in agreement.objectives]
    if objective_ref not in refs:
        known = ", ".join(refs) or "none"
        raise InvalidReference(
            f"The agreement has no objective '{objective_ref}' (its objectives: {known}).",
            errors=[{"loc": ["body", "objective_ref"], "msg": "not an objective of the agreement"}],
        )


def _invalid(location: list[str | int], message: str) -> InvalidReference:
    return InvalidReference(message, errors=[{"loc": location, "msg": message}])


async def create_indicator(
    session: AsyncSession,
    *,
    actor: Actor,
    agreement: Agreement,
    initiative: Initiative,
    payload: IndicatorCreate,
) -> IndicatorPublic:
    """Record an indicator under ``initiative`` (of ``agreement``)."""
    check_objective(agreement, payload.objective_ref)
    indicator = Indicator(
        id=uuid7(),
        initiative_id=initiative.id,
        agreement_id=initiative.agreement_id,
        title=payload.title,
        measure=payload.measure,
        unit=payload.unit,
        baseline=payload.baseline.model_dump(mode="json"),
        target=payload.target.model_dump(mode="json"),
        objective_ref=payload.objective_ref,
    )
    session.add(indicator)
    await session.flush()
    shown = public(indicator, None)
    await record_change(
        session,
        actor=actor,
        event_type="indicator.created",
        aggregate=_aggregate(indicator),
        entity_id=indicator.id,
        before=None,
        after=shown.model_dump(mode="json"),
    )
    return shown


async def update_indicator(
    session: AsyncSession,
    *,
    actor: Actor,
    agreement: Agreement,
    indicator: Indicator,
    payload: IndicatorUpdate,
) -> IndicatorPublic:
    latest = await latest_measurement(session, indicator.id)
    changes = payload.changes()
    if not changes:
        return public(indicator, latest)
    measure = changes.get("measure", indicator.measure)
    if measure != indicator.measure and latest is not None:
        raise Conflict(
            f"The indicator has measurements as {indicator.measure}; its measure cannot "
            "change. Record a new indicator instead."
        )
    baseline = changes.get("baseline", indicator.baseline)
    target = changes.get("target", indicator.target)
    try:
        check_fits(measure, {"baseline.value": baseline["value"], "target.value": target["value"]})
    except ValueError as exc:
        raise _invalid(["body"], str(exc)) from exc
    if "objective_ref" in changes:
        check_objective(agreement, changes["objective_ref"])
    before = as_public(indicator, latest)
    for field in ("title", "measure", "unit", "objective_ref"):
        if field in changes:
            setattr(indicator, field, changes[field])
    if "baseline" in changes:
        indicator.baseline = payload.baseline.model_dump(mode="json")  # type: ignore[union-attr]
    if "target" in changes:
        indicator.target = payload.target.model_dump(mode="json")  # type: ignore[union-attr]
    indicator.updated_at = dt.datetime.now(dt.UTC)
    await session.flush()
    shown = public(indicator, latest)
    await record_change(
        session,
        actor=actor,
        event_type="indicator.updated",
        aggregate=_aggregate(indicator),
        entity_id=indicator.id,
        before=before,
        after=shown.model_dump(mode="json"),
    )
    return shown


async def delete_indicator(session: AsyncSession, *, actor: Actor, indicator: Indicator) -> None:
    """Delete an indicator and its measurements."""
    before = as_public(indicator, await latest_measurement(session, indicator.id))
    await session.delete(indicator)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="indicator.deleted",
        aggregate=_aggregate(indicator),
        entity_id=indicator.id,
        before=before,
        after=None,
    )


def check_measurement(measure: str, value: Any, on: dt.date, location: list[str | int]) -> None:
    """A measured value fits the indicator's measure and was not taken in the future."""
    try:
        check_fits(measure, {"value": value})
    except ValueError as exc:
        raise _invalid([*location, "value"], str(exc)) from exc
    if on > today():
        raise _invalid([*location, "on"], "a measurement cannot be dated in the future")


async def record_measurement(
    session: AsyncSession,
    *,
    actor: Actor,
    indicator: Indicator,
    payload: MeasurementCreate,
    report_id: uuid.UUID | None = None,
) -> tuple[Measurement, IndicatorPublic]:
    """Record a measured value of ``indicator`` (locked by the caller) and emit
    ``indicator.measured``. The indicator's version moves: its `latest` may have."""
    check_measurement(indicator.measure, payload.value, payload.on, ["body"])
    # The latest before this one (the indicator's lock keeps it so): the new one
    # is the latest unless that one is of a later date. The measurement's row
    # goes in with its event, in one statement.
    previous = await latest_measurement(session, indicator.id)
    now = dt.datetime.now(dt.UTC)
    row = {
        "id": uuid7(),
        "indicator_id": indicator.id,
        "agreement_id": indicator.agreement_id,
        "value": payload.value,
        "on": payload.on,
        "note": payload.note,
        "report_id": report_id,
        "created_at": now,
    }
    measurement = Measurement(**row)
    latest: Any = measurement
    if previous is not None and (previous.on, previous.id) > (measurement.on, measurement.id):
        latest = previous
    indicator.updated_at = now
    await session.flush()
    shown = public(indicator, latest)
    await record_change(
        session,
        actor=actor,
        event_type="indicator.measured",
        aggregate=_aggregate(indicator),
        entity_id=indicator.id,
        before=None,
        after=shown.model_dump(mode="json"),
        extra={
            "measurement": MeasurementPublic.model_validate(measurement).model_dump(mode="json")
        },
        rows=[(_MEASUREMENTS, [row])],
    )
    return measurement, shown


async def list_measurements(
    session: AsyncSession, *, indicator_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[Measurement]:
    """Up to ``limit + 1`` measurements after ``after``, in the order they were recorded."""
    query = select(Measurement).where(Measurement.indicator_id == indicator_id)
    return await rows_after(session, query, Measurement.id, after=after, limit=limit)
