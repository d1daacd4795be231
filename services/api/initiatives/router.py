"""Routes of initiatives: `POST /v1/agreements/{id}/initiatives` and `/v1/initiatives`."""

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
    list_answer,
    rendered_answer,
    set_etag,
)
from services.api.problems import problem_responses
from shared.agreements.reads import get_agreement
from shared.initiatives import service
from shared.initiatives.schemas import (
    InitiativeCreate,
    InitiativePublic,
    InitiativeStatus,
    InitiativeTransition,
    InitiativeUpdate,
)

router = APIRouter(tags=["initiatives"])


@router.post(
    "/v1/agreements/{agreement_id}/initiatives",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_initiative(
    agreement_id: uuid.UUID,
    body: InitiativeCreate,
    session: SessionDep,
    principal: Writer,
    response: Response,
) -> InitiativePublic:
    """Record an initiative carrying out the agreement, in `planned`.

    `objective_ref`, when given, must name one of the agreement's objectives
    and `lead_organization_id` must be one of its parties (422 otherwise);
    dates must be in order. A completed, terminated, expired or cancelled
    agreement takes no new initiatives (409).
    """
    agreement = await get_agreement(
        session, agreement_id, organization_id=principal.organization_id, for_update=True
    )
    initiative = await service.create_initiative(
        session, actor=principal.actor, agreement=agreement, payload=body
    )
    response.headers["Location"] = f"/v1/initiatives/{initiative.id}"
    set_etag(response, initiative.version)
    return InitiativePublic.model_validate(initiative)


@router.get(
    "/v1/initiatives",
    response_model=Page[InitiativePublic],
    responses=problem_responses(400, 401, 403, 422),
)
async def list_initiatives(
    session: SessionDep,
    principal: Reader,
    response: Response,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    agreement_id: uuid.UUID | None = Query(default=None, description="Only this agreement's."),
    status: InitiativeStatus | None = None,
    lead_organization_id: uuid.UUID | None = Query(
        default=None, description="Only initiatives this organization leads."
    ),
    objective_ref: Annotated[
        str | None, Query(max_length=20, description="Only those carrying out this objective.")
    ] = None,
) -> Page[InitiativePublic] | Response:
    """List initiatives in creation order, with filters."""
    query = {
        "after": decode_cursor(cursor),
        "limit": limit,
        "organization_scope": principal.organization_id,
        "agreement_id": agreement_id,
        "status": status,
        "lead_organization_id": lead_organization_id,
        "objective_ref": objective_ref,
    }
    return await list_answer(
        session,
        service.list_rendered_initiatives,
        service.list_initiatives,
        query,
        InitiativePublic,
        response,
    )


@router.get(
    "/v1/initiatives/{initiative_id}",
    response_model=InitiativePublic,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_initiative(
    initiative_id: uuid.UUID, session: SessionDep, principal: Reader, response: Response
) -> InitiativePublic | Response:
    """Fetch one initiative; the `ETag` header carries its version."""
    stored = await service.read_rendered_initiative(
        session, initiative_id, organization_id=principal.organization_id
    )
    if stored is not None:
        set_etag(response, stored.version)
        return rendered_answer(stored.rendered, response)
    initiative = await service.get_initiative(
        session, initiative_id, organization_id=principal.organization_id
    )
    set_etag(response, initiative.version)
    return InitiativePublic.model_validate(initiative)


@router.patch(
    "/v1/initiatives/{initiative_id}",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_initiative(
    initiative_id: uuid.UUID,
    body: InitiativeUpdate,
    session: SessionDep,
    principal: Writer,
    response: Response,
    if_match: IfMatchHeader = None,
) -> InitiativePublic:
    """Change fields of an initiative. Needs `If-Match` with its current ETag.

    The same rules as on creation apply to the merged result. The status
    changes only through `POST /v1/initiatives/{id}/transitions`.
    """
    agreement, initiative = await service.lock_for_change(
        session, initiative_id, organization_id=principal.organization_id
    )
    check_if_match(if_match, initiative.version)
    initiative = await service.update_initiative(
        session, actor=principal.actor, agreement=agreement, initiative=initiative, payload=body
    )
    set_etag(response, initiative.version)
    return InitiativePublic.model_validate(initiative)


@router.delete(
    "/v1/initiatives/{initiative_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def delete_initiative(
    initiative_id: uuid.UUID,
    session: SessionDep,
    principal: Writer,
    if_match: IfMatchHeader = None,
) -> None:
    """Delete an initiative without milestones (409 otherwise; cancel it to keep the record)."""
    _agreement, initiative = await service.lock_for_change(
        session, initiative_id, organization_id=principal.organization_id
    )
    check_if_match(if_match, initiative.version)
    await service.delete_initiative(session, actor=principal.actor, initiative=initiative)


@router.post(
    "/v1/initiatives/{initiative_id}/transitions",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def transition_initiative(
    initiative_id: uuid.UUID,
    body: InitiativeTransition,
    session: SessionDep,
    principal: Writer,
    response: Response,
) -> InitiativePublic:
    """Move the initiative along its lifecycle.

        planned -> in_progress <-> on_hold;  in_progress -> completed
        planned | in_progress | on_hold -> cancelled

    A move that is not allowed answers 409 with the allowed targets in
    `allowed`. Work cannot start or resume (`in_progress`) while the agreement
    is suspended, completed, terminated, expired or cancelled (409). Starting
    sets `actual_start`, completing sets `actual_end` (to `on`, or today),
    unless already set. The agreement's own lifecycle moves its initiatives
    too: suspension puts open ones `on_hold`, resumption restores them,
    termination cancels them.
    """
    agreement, initiative = await service.lock_for_change(
        session, initiative_id, organization_id=principal.organization_id
    )
    initiative = await service.transition_initiative(
        session, actor=principal.actor, agreement=agreement, initiative=initiative, request=body
    )
    set_etag(response, initiative.version)
    return InitiativePublic.model_validate(initiative)
