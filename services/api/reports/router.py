"""Routes of `/v1/reports`: the periodic reports partners owe (SPEC section 11).

Reports are opened by the sweep from an agreement's `reporting` schedule;
clients draft, submit and review them.
"""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import APIRouter, Query, Response

from services.api.deps import Reader, SessionDep, Writer
from services.api.http import (
    CursorQuery,
    IfMatchHeader,
    LimitQuery,
    Page,
    check_if_match,
    decode_cursor,
    paginate,
    set_etag,
)
from services.api.problems import problem_responses
from shared.clock import today
from shared.reports import service
from shared.reports.schemas import ReportPublic, ReportStatus, ReportTransition, ReportUpdate

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("", responses=problem_responses(400, 401, 403, 422))
async def list_reports(
    session: SessionDep,
    principal: Reader,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    agreement_id: uuid.UUID | None = Query(default=None, description="Only this agreement's."),
    status: ReportStatus | None = None,
    due_before: dt.date | None = Query(
        default=None, description="Only reports due strictly before this date."
    ),
    overdue: bool | None = Query(
        default=None, description="`true`: only open or returned reports past `due_on`."
    ),
) -> Page[ReportPublic]:
    """List reports in the order they were opened, with filters."""
    rows = await service.list_reports(
        session,
        after=decode_cursor(cursor),
        limit=limit,
        organization_scope=principal.organization_id,
        agreement_id=agreement_id,
        status=status,
        due_before=due_before,
        overdue=overdue,
        today=today(),
    )
    return paginate(rows, limit, ReportPublic)


@router.get("/{report_id}", responses=problem_responses(401, 403, 404, 422))
async def get_report(
    report_id: uuid.UUID, session: SessionDep, principal: Reader, response: Response
) -> ReportPublic:
    """Fetch one report; `overdue` is true while it is open or returned after `due_on`."""
    report = await service.get_report(session, report_id, organization_id=principal.organization_id)
    set_etag(response, report.version)
    return ReportPublic.model_validate(report)


@router.patch("/{report_id}", responses=problem_responses(401, 403, 404, 409, 412, 422, 428))
async def update_report(
    report_id: uuid.UUID,
    body: ReportUpdate,
    session: SessionDep,
    principal: Writer,
    response: Response,
    if_match: IfMatchHeader = None,
) -> ReportPublic:
    """Draft the report: `narrative`, `challenges`, `next_steps` and `measurements`.

    Only while the report is `open` or `returned` (409 otherwise); needs
    `If-Match`. Each measurement names an indicator of the report's agreement
    and a value fitting its measure (422 otherwise); they become indicator
    measurements when the report is accepted.
    """
    report = await service.get_report(
        session, report_id, organization_id=principal.organization_id, for_update=True
    )
    check_if_match(if_match, report.version)
    report = await service.update_report(
        session, actor=principal.actor, report=report, payload=body
    )
    set_etag(response, report.version)
    return ReportPublic.model_validate(report)


@router.post("/{report_id}/transitions", responses=problem_responses(401, 403, 404, 409, 422))
async def transition_report(
    report_id: uuid.UUID,
    body: ReportTransition,
    session: SessionDep,
    principal: Writer,
    response: Response,
) -> ReportPublic:
    """Move the report along its lifecycle.

        open -> submitted -> accepted | returned -> submitted ...

    Submitting needs a narrative (409 naming it). A key bound to an
    organization submits only as the reporter organization, and cannot
    accept or return its own organization's report (403): the review needs
    another party's key or one bound to no organization. Accepting records
    the report's `measurements` as indicator measurements in the same
    transaction. `comment` is kept as the `review_comment`. A move that is
    not allowed answers 409 with the allowed targets in `allowed`.
    """
    report = await service.get_report(
        session, report_id, organization_id=principal.organization_id, for_update=True
    )
    report = await service.transition_report(
        session,
        actor=principal.actor,
        report=report,
        request=body,
        caller_organization_id=principal.organization_id,
    )
    set_etag(response, report.version)
    return ReportPublic.model_validate(report)
