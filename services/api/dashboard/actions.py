"""The dashboard's actions: form POSTs through the same services as /v1.

Each action checks the form's CSRF token and the key's `write` scope, then
calls the service /v1 calls (same rules, events and audit row, with the key's
id and the request id). A refusal re-renders the agreement page with the
rule's message next to the form and what was typed, and changes nothing.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.api.deps import SessionDep
from shared.agreements import lifecycle as agreement_lifecycle
from shared.agreements import reads as agreements
from shared.agreements.schemas import TransitionRequest
from shared.dashboard.agreement import agreement_page
from shared.dashboard.forms import FieldError, parse_form, prefixed, refusal
from shared.dashboard.links import agreement_path
from shared.engagements import service as engagements
from shared.engagements.schemas import EngagementCreate
from shared.errors import DomainError, Forbidden, NotFound
from shared.events import forget_new_events
from shared.milestones import service as milestones
from shared.milestones.schemas import MilestoneUpdate
from shared.reports import service as reports
from shared.reports.schemas import ReportTransition

from .auth import FormViewer, Viewer
from .render import render_agreement

router = APIRouter(prefix="/app", include_in_schema=False)

Text = Annotated[str, Form(max_length=20_000)]


def require_write(viewer: Viewer) -> None:
    if not viewer.can_write:
        raise Forbidden("Your api key can read but not change records.")


async def refused(
    request: Request,
    session: SessionDep,
    viewer: Viewer,
    agreement_id: uuid.UUID,
    form: str,
    values: dict[str, Any],
    errors: list[FieldError],
    status_code: int,
) -> HTMLResponse:
    """The agreement page again, the form keeping what was typed, nothing changed."""
    await session.rollback()
    forget_new_events(session)  # rolled back: there is nothing to publish
    page = await agreement_page(session, agreement_id, organization_scope=viewer.organization_id)
    forms = {form: {"values": values, "errors": errors}}
    return render_agreement(request, page, forms=forms, errors=errors, status_code=status_code)


def saved(agreement_id: uuid.UUID, what: str, anchor: str) -> RedirectResponse:
    return RedirectResponse(f"{agreement_path(agreement_id)}?saved={what}#{anchor}", 303)


@router.post("/agreements/{agreement_id}/transition")
async def transition(
    request: Request,
    agreement_id: uuid.UUID,
    session: SessionDep,
    viewer: FormViewer,
    to: Text = "",
    reason: Text = "",
    on: Text = "",
) -> Response:
    """Move the agreement along its lifecycle (POST /v1/agreements/{id}/transitions)."""
    require_write(viewer)
    values = {"to": to, "reason": reason, "on": on}
    agreement = await agreements.get_agreement(
        session, agreement_id, organization_id=viewer.organization_id, for_update=True
    )
    body, errors = parse_form(TransitionRequest, values)
    if body is None:
        return await refused(
            request, session, viewer, agreement_id, "transition", values, errors, 422
        )
    try:
        await agreement_lifecycle.transition_agreement(
            session, actor=viewer.principal.actor, agreement=agreement, request=body
        )
    except DomainError as exc:
        return await refused(
            request, session, viewer, agreement_id, "transition", values, refusal(exc), exc.status
        )
    return saved(agreement_id, "transition", "lifecycle")


@router.post("/milestones/{milestone_id}/done")
async def mark_milestone_done(
    request: Request,
    milestone_id: uuid.UUID,
    session: SessionDep,
    viewer: FormViewer,
    version: Annotated[int, Form()] = 0,
) -> Response:
    """Mark a milestone done (PATCH /v1/milestones/{id} with status done, If-Match: version)."""
    require_write(viewer)
    milestone = await milestones.get_milestone(
        session, milestone_id, organization_id=viewer.organization_id, for_update=True
    )
    agreement_id = milestone.agreement_id
    form = f"milestone-{milestone_id}"
    if milestone.version != version:
        message = "The milestone changed since this page was loaded; check it and try again."
        errors = [FieldError(None, message)]
        return await refused(request, session, viewer, agreement_id, form, {}, errors, 412)
    try:
        await milestones.update_milestone(
            session,
            actor=viewer.principal.actor,
            milestone=milestone,
            payload=MilestoneUpdate.model_validate({"status": "done"}),
        )
    except DomainError as exc:
        return await refused(
            request, session, viewer, agreement_id, form, {}, refusal(exc), exc.status
        )
    return saved(agreement_id, "milestone", "milestones")


@router.post("/agreements/{agreement_id}/engagements")
async def record_engagement(
    request: Request,
    agreement_id: uuid.UUID,
    session: SessionDep,
    viewer: FormViewer,
    kind: Text = "",
    title: Text = "",
    starts_on: Text = "",
    ends_on: Text = "",
    location: Text = "",
    summary: Text = "",
) -> Response:
    """Record an engagement under the agreement (POST /v1/engagements)."""
    require_write(viewer)
    await agreements.get_agreement(session, agreement_id, organization_id=viewer.organization_id)
    values = {
        "kind": kind,
        "title": title,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "location": location,
        "summary": summary,
    }
    body, errors = parse_form(EngagementCreate, {**values, "agreement_id": str(agreement_id)})
    if body is None:
        return await refused(
            request, session, viewer, agreement_id, "engagement", values, errors, 422
        )
    try:
        await engagements.create_engagement(
            session,
            actor=viewer.principal.actor,
            payload=body,
            organization_scope=viewer.organization_id,
        )
    except NotFound:
        raise
    except DomainError as exc:
        return await refused(
            request, session, viewer, agreement_id, "engagement", values, refusal(exc), exc.status
        )
    return saved(agreement_id, "engagement", "engagements")


@router.post("/reports/{report_id}/transition")
async def move_report(
    request: Request,
    report_id: uuid.UUID,
    session: SessionDep,
    viewer: FormViewer,
    to: Text = "",
    comment: Text = "",
) -> Response:
    """Submit, accept or return a report (POST /v1/reports/{id}/transitions)."""
    require_write(viewer)
    report = await reports.get_report(
        session, report_id, organization_id=viewer.organization_id, for_update=True
    )
    agreement_id = report.agreement_id
    form = f"report-{report_id}"
    values = {"to": to, "comment": comment}
    body, errors = parse_form(ReportTransition, values)
    if body is None:
        errors = prefixed(errors, f"{form}-")
        return await refused(request, session, viewer, agreement_id, form, values, errors, 422)
    try:
        await reports.transition_report(
            session,
            actor=viewer.principal.actor,
            report=report,
            request=body,
            caller_organization_id=viewer.organization_id,
        )
    except DomainError as exc:
        errors = prefixed(refusal(exc), f"{form}-")
        return await refused(
            request, session, viewer, agreement_id, form, values, errors, exc.status
        )
    return saved(agreement_id, "report", "reports")
