"""Report use cases: draft, submit, review; acceptance records the measurements.

    open -> submitted -> accepted | returned -> submitted ...

Who may move a report: any key with `write` that sees the agreement, except
that an organization-bound key submits only as the reporter organization and
reviews (accepts or returns) only when it is *not* bound to the reporter:
nobody approves their own report. Functions flush; the boundary commits.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements.visibility import under_visible_agreements
from shared.errors import (
    Conflict,
    Forbidden,
    InvalidReference,
    NotFound,
    TransitionConditionFailed,
)
from shared.events import Actor, Aggregate, record_change
from shared.indicators.schemas import MeasurementCreate
from shared.indicators.service import check_measurement, get_indicator, record_measurement
from shared.lifecycle import REPORT_OPEN_STATUSES, REPORT_TRANSITIONS, check_move
from shared.models import Indicator, Report
from shared.reports.schemas import ReportTransition, ReportUpdate, as_public
from shared.rows import one_or_404, rows_after


def overdue_condition(on: dt.date) -> ColumnElement[bool]:
    """SQL form of :func:`shared.lifecycle.report_is_overdue` (same statuses)."""
    return and_(Report.status.in_(REPORT_OPEN_STATUSES), Report.due_on < on)


def _aggregate(report: Report) -> Aggregate:
    return Aggregate("agreement", report.agreement_id)


def _visible(query: Select[Any], organization_id: uuid.UUID | None) -> Select[Any]:
    return under_visible_agreements(query, Report.agreement_id, organization_id)


async def get_report(
    session: AsyncSession,
    report_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None = None,
    for_update: bool = False,
) -> Report:
    """The report; 404 also when the caller may not see its agreement."""
    query = _visible(select(Report).where(Report.id == report_id), organization_id)
    missing = f"Report {report_id} does not exist."
    return await one_or_404(session, query, missing=missing, lock=Report if for_update else None)


async def list_reports(
    session: AsyncSession,
    *,
    after: uuid.UUID | None,
    limit: int,
    organization_scope: uuid.UUID | None,
    agreement_id: uuid.UUID | None = None,
    status: str | None = None,
    due_before: dt.date | None = None,
    overdue: bool | None = None,
    today: dt.date,
) -> list[Report]:
    """Up to ``limit + 1`` reports after ``after``, in the order they were opened."""
    query = _visible(select(Report), organization_scope)
    if agreement_id:
        query = query.where(Report.agreement_id == agreement_id)
    if status:
        query = query.where(Report.status == status)
    if due_before:
        query = query.where(Report.due_on < due_before)
    if overdue is not None:
        late = overdue_condition(today)
        query = query.where(late if overdue else ~late)
    return await rows_after(session, query, Report.id, after=after, limit=limit)


async def open_reports_due(
    session: AsyncSession,
    *,
    organization_scope: uuid.UUID | None,
    due_before: dt.date,
    limit: int,
) -> list[Report]:
    """Up to ``limit + 1`` open or returned reports due before ``due_before``,
    the earliest due first."""
    query = _visible(select(Report), organization_scope).where(
        Report.status.in_(REPORT_OPEN_STATUSES), Report.due_on < due_before
    )
    query = query.order_by(Report.due_on, Report.id).limit(limit + 1)
    return list((await session.scalars(query)).all())


async def _check_measurements(
    session: AsyncSession, report: Report, measurements: list[dict[str, Any]]
) -> None:
    """Each carried value names an indicator of the report's agreement and fits it."""
    wanted = {uuid.UUID(str(m["indicator_id"])) for m in measurements}
    measures = dict(
        (
            await session.execute(
                select(Indicator.id, Indicator.measure).where(
                    Indicator.id.in_(wanted), Indicator.agreement_id == report.agreement_id
                )
            )
        ).all()
    )
    for index, measurement in enumerate(measurements):
        location: list[str | int] = ["body", "measurements", index]
        measure = measures.get(uuid.UUID(str(measurement["indicator_id"])))
        if measure is None:
            raise InvalidReference(
                f"No indicator {measurement['indicator_id']} under the report's agreement.",
                errors=[{"loc": [*location, "indicator_id"], "msg": "no such indicator"}],
            )
        check_measurement(measure, measurement["value"], measurement["on"], location)


async def update_report(
    session: AsyncSession,
    *,
    actor: Actor,
    report: Report,
    payload: ReportUpdate,
    caller_organization_id: uuid.UUID | None = None,
) -> Report:
    """Change the draft text (and carried measurements) of an open or returned report.

    The draft is the reporter's: an organization-bound key drafts only as the
    reporter organization (as it submits)."""
    _check_may_move(report, "submitted", caller_organization_id)
    if report.status not in REPORT_OPEN_STATUSES:
        raise Conflict(
            f"The report is {report.status}; its text can change only while it is open or returned."
        )
    changes = payload.changes()
    if not changes:
        return report
    if payload.measurements is not None:
        carried = [m.model_dump() for m in payload.measurements]
        await _check_measurements(session, report, carried)
    before = as_public(report)
    for field in ("narrative", "challenges", "next_steps"):
        if field in changes:
            setattr(report, field, changes[field])
    if payload.measurements is not None:
        report.measurements = [m.model_dump(mode="json") for m in payload.measurements]
    report.updated_at = dt.datetime.now(dt.UTC)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="report.updated",
        aggregate=_aggregate(report),
        entity_id=report.id,
        before=before,
        after=as_public(report),
    )
    return report


def _check_may_move(report: Report, target: str, caller_organization_id: uuid.UUID | None) -> None:
    if caller_organization_id is None:
        return
    reporter = report.reporter_organization_id
    if target == "submitted" and caller_organization_id != reporter:
        raise Forbidden(
            "Only the reporter organization (or a key not bound to an organization) "
            "drafts and submits this report."
        )
    if target in ("accepted", "returned") and caller_organization_id == reporter:
        raise Forbidden(
            "A key bound to the reporter organization cannot review its own report; "
            "the review needs another party's key or an unbound one."
        )


async def transition_report(
    session: AsyncSession,
    *,
    actor: Actor,
    report: Report,
    request: ReportTransition,
    caller_organization_id: uuid.UUID | None,
) -> Report:
    """Submit, accept or return a report; accepting records its measurements."""
    check_move("A report", REPORT_TRANSITIONS, report.status, request.to)
    _check_may_move(report, request.to, caller_organization_id)
    if request.to == "submitted" and not (report.narrative or "").strip():
        raise TransitionConditionFailed(
            "Submitting needs a narrative; PATCH the report's narrative first.",
            missing=["narrative"],
        )
    now = dt.datetime.now(dt.UTC)
    before = as_public(report)
    previous = report.status
    report.status = request.to
    if request.to == "submitted":
        report.submitted_at = now
    else:
        report.reviewed_at = now
        report.review_comment = request.comment
    report.updated_at = now
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type=f"report.{request.to}",
        aggregate=_aggregate(report),
        entity_id=report.id,
        before=before,
        after=as_public(report),
        extra={"previous_status": previous, "comment": request.comment},
    )
    if request.to == "accepted":
        await _record_carried_measurements(session, actor=actor, report=report)
    return report


async def _record_carried_measurements(
    session: AsyncSession, *, actor: Actor, report: Report
) -> None:
    """In the acceptance's transaction: every carried value becomes a measurement."""
    for index, carried in enumerate(report.measurements):
        try:
            indicator = await get_indicator(
                session, uuid.UUID(carried["indicator_id"]), for_update=True
            )
        except NotFound:
            raise Conflict(
                f"The report's measurement {index} names indicator {carried['indicator_id']}, "
                "which no longer exists; return the report for correction."
            ) from None
        await record_measurement(
            session,
            actor=actor,
            indicator=indicator,
            payload=MeasurementCreate(
                value=carried["value"], on=dt.date.fromisoformat(carried["on"])
            ),
            report_id=report.id,
        )
