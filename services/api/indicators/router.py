"""Routes of indicators: `POST /v1/initiatives/{id}/indicators`, `/v1/indicators` and
their measurements (SPEC section 11)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.api.deps import Reader, SessionDep, Writer
from services.api.http import (
    CursorQuery,
    IfMatchHeader,
    LimitQuery,
    Page,
    check_if_match,
    decode_cursor,
    page_of,
    paginate,
    set_etag,
)
from services.api.problems import problem_responses
from shared.agreements.reads import get_agreement
from shared.indicators import service
from shared.indicators.schemas import (
    IndicatorCreate,
    IndicatorPublic,
    IndicatorUpdate,
    MeasurementCreate,
    MeasurementPublic,
)
from shared.initiatives.service import get_initiative

router = APIRouter(tags=["indicators"])

ACHIEVEMENT = """
Every read carries `latest` (the last measurement by date, or null) and
`achievement` = (latest - baseline) / (target - baseline), clipped to
[0, 1]: null for qualitative indicators, when the target equals the
baseline, or before any measurement. A decreasing indicator (target below
the baseline) achieves as its value falls.
"""


@router.post(
    "/v1/initiatives/{initiative_id}/indicators",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
)
async def create_indicator(
    initiative_id: uuid.UUID,
    body: IndicatorCreate,
    session: SessionDep,
    principal: Writer,
    response: Response,
) -> IndicatorPublic:
    """Define an indicator of an initiative, with its baseline and target.

    `measure` is `unit` or `percentage` (baseline and target values are
    numbers) or `qualitative` (text); any other pairing answers 422.
    `objective_ref`, when given, must name an objective of the initiative's
    agreement (422 otherwise).
    """
    initiative = await get_initiative(
        session, initiative_id, organization_id=principal.organization_id
    )
    agreement = await get_agreement(session, initiative.agreement_id)
    indicator = await service.create_indicator(
        session, actor=principal.actor, agreement=agreement, initiative=initiative, payload=body
    )
    response.headers["Location"] = f"/v1/indicators/{indicator.id}"
    set_etag(response, indicator.version)
    return indicator


create_indicator.__doc__ = (create_indicator.__doc__ or "") + ACHIEVEMENT


@router.get("/v1/indicators", responses=problem_responses(400, 401, 403, 422))
async def list_indicators(
    session: SessionDep,
    principal: Reader,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    initiative_id: uuid.UUID | None = Query(default=None, description="Only this initiative's."),
    agreement_id: uuid.UUID | None = Query(default=None, description="Only this agreement's."),
    objective_ref: Annotated[
        str | None, Query(max_length=20, description="Only those serving this objective.")
    ] = None,
) -> Page[IndicatorPublic]:
    """List indicators in creation order, each with `latest` and `achievement`."""
    rows = await service.list_indicators(
        session,
        after=decode_cursor(cursor),
        limit=limit,
        organization_scope=principal.organization_id,
        initiative_id=initiative_id,
        agreement_id=agreement_id,
        objective_ref=objective_ref,
    )
    return paginate(rows, limit, IndicatorPublic)


@router.get("/v1/indicators/{indicator_id}", responses=problem_responses(401, 403, 404, 422))
async def get_indicator(
    indicator_id: uuid.UUID, session: SessionDep, principal: Reader, response: Response
) -> IndicatorPublic:
    """Fetch one indicator; the `ETag` header carries its version (a measurement moves it)."""
    indicator = await service.read_indicator(
        session, indicator_id, organization_id=principal.organization_id
    )
    set_etag(response, indicator.version)
    return indicator


get_indicator.__doc__ = (get_indicator.__doc__ or "") + ACHIEVEMENT


@router.patch(
    "/v1/indicators/{indicator_id}",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_indicator(
    indicator_id: uuid.UUID,
    body: IndicatorUpdate,
    session: SessionDep,
    principal: Writer,
    response: Response,
    if_match: IfMatchHeader = None,
) -> IndicatorPublic:
    """Change an indicator. Needs `If-Match` with its current ETag.

    `baseline` and `target`, when given, replace the whole reading. `measure`
    cannot change once the indicator has measurements (409).
    """
    indicator = await service.get_indicator(
        session, indicator_id, organization_id=principal.organization_id, for_update=True
    )
    check_if_match(if_match, indicator.version)
    agreement = await get_agreement(session, indicator.agreement_id)
    shown = await service.update_indicator(
        session, actor=principal.actor, agreement=agreement, indicator=indicator, payload=body
    )
    set_etag(response, shown.version)
    return shown


@router.delete(
    "/v1/indicators/{indicator_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
async def delete_indicator(
    indicator_id: uuid.UUID,
    session: SessionDep,
    principal: Writer,
    if_match: IfMatchHeader = None,
) -> None:
    """Delete an indicator together with its measurements. Needs `If-Match`."""
    indicator = await service.get_indicator(
        session, indicator_id, organization_id=principal.organization_id, for_update=True
    )
    check_if_match(if_match, indicator.version)
    await service.delete_indicator(session, actor=principal.actor, indicator=indicator)


@router.post(
    "/v1/indicators/{indicator_id}/measurements",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
)
async def record_measurement(
    indicator_id: uuid.UUID,
    body: MeasurementCreate,
    session: SessionDep,
    principal: Writer,
    response: Response,
) -> MeasurementPublic:
    """Record a measured value of the indicator and emit `indicator.measured`.

    The value must be a number for `unit` and `percentage` indicators and text
    for `qualitative` ones (422 otherwise); `on` cannot be in the future. The
    indicator's `latest`, `achievement` and version follow, and the rollups of
    its initiative and agreement are recomputed by the worker.
    """
    indicator = await service.get_indicator(
        session, indicator_id, organization_id=principal.organization_id, for_update=True
    )
    measurement, _ = await service.record_measurement(
        session, actor=principal.actor, indicator=indicator, payload=body
    )
    response.headers["Location"] = f"/v1/indicators/{indicator_id}/measurements"
    return MeasurementPublic.model_validate(measurement)


@router.get(
    "/v1/indicators/{indicator_id}/measurements",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_measurements(
    indicator_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[MeasurementPublic]:
    """The indicator's measurements in the order they were recorded."""
    await service.get_indicator(session, indicator_id, organization_id=principal.organization_id)
    rows = await service.list_measurements(
        session, indicator_id=indicator_id, after=decode_cursor(cursor), limit=limit
    )
    items, next_cursor = page_of(rows, limit, key=lambda row: row.id)
    return Page[MeasurementPublic](
        items=[MeasurementPublic.model_validate(row) for row in items], next_cursor=next_cursor
    )
