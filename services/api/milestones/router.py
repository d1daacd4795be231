"""Routes of milestones: `POST /v1/initiatives/{id}/milestones` and `/v1/milestones`."""

from __future__ import annotations

import datetime as dt
import uuid

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
from shared.initiatives.service import get_initiative
from shared.milestones import service
from shared.milestones.schemas import (
    MilestoneCreate,
    MilestonePublic,
    MilestoneStatus,
    MilestoneUpdate,
)

router = APIRouter(tags=["milestones"])


@router.post(
    "/v1/initiatives/{initiative_id}/milestones",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
)
async def create_milestone(
    initiative_id: uuid.UUID,
    body: MilestoneCreate,
    session: SessionDep,
    principal: Writer,
    response: Response,
) -> MilestonePublic:
    """Add a dated milestone to an initiative (status `pending` unless given).

    `engagement_id`, when given, must be an engagement of the same agreement:
    the meeting or visit whose decision created the milestone.
    """
    initiative = await get_initiative(
        session, initiative_id, organization_id=principal.organization_id
    )
    milestone = await service.create_milestone(
        session, actor=principal.actor, initiative=initiative, payload=body
    )
    response.headers["Location"] = f"/v1/milestones/{milestone.id}"
    set_etag(response, milestone.version)
    return MilestonePublic.model_validate(milestone)


@router.get(
    "/v1/milestones",
    response_model=Page[MilestonePublic],
    responses=problem_responses(400, 401, 403, 422),
)
async def list_milestones(
    session: SessionDep,
    principal: Reader,
    response: Response,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    initiative_id: uuid.UUID | None = Query(default=None, description="Only this initiative's."),
    agreement_id: uuid.UUID | None = Query(default=None, description="Only this agreement's."),
    engagement_id: uuid.UUID | None = Query(
        default=None, description="Only those decided at this engagement."
    ),
    status: MilestoneStatus | None = None,
    overdue: bool | None = Query(
        default=None,
        description="`true`: only overdue milestones (not done or cancelled, due before "
        "today); `false`: only the others.",
    ),
    due_before: dt.date | None = Query(default=None, description="Only those due before this."),
) -> Page[MilestonePublic] | Response:
    """List milestones in creation order, with filters."""
    query = {
        "after": decode_cursor(cursor),
        "limit": limit,
        "organization_scope": principal.organization_id,
        "initiative_id": initiative_id,
        "agreement_id": agreement_id,
        "engagement_id": engagement_id,
        "status": status,
        "overdue": overdue,
        "due_before": due_before,
    }
    return await list_answer(
        session,
        service.list_rendered_milestones,
        service.list_milestones,
        query,
        MilestonePublic,
        response,
    )


@router.get(
    "/v1/milestones/{milestone_id}",
    response_model=MilestonePublic,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_milestone(
    milestone_id: uuid.UUID, session: SessionDep, principal: Reader, response: Response
) -> MilestonePublic | Response:
    """Fetch one milestone; the `ETag` header carries its version."""
    stored = await service.read_rendered_milestone(
        session, milestone_id, organization_id=principal.organization_id
    )
    if stored is not None:
        body, version = stored
        set_etag(response, version)
        return rendered_answer(body, response)
    milestone = await service.get_milestone(
        session, milestone_id, organization_id=principal.organization_id
    )
    set_etag(response, milestone.version)
    return MilestonePublic.model_validate(milestone)


@router.patch(
    "/v1/milestones/{milestone_id}",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_milestone(
    milestone_id: uuid.UUID,
    body: MilestoneUpdate,
    session: SessionDep,
    principal: Writer,
    response: Response,
    if_match: IfMatchHeader = None,
) -> MilestonePublic:
    """Change a milestone, including its `status`. Needs `If-Match` with its current ETag.

    Becoming `done` sets `completed_on` (to the given date, else today; never
    in the future) and emits `milestone.completed`; any other status clears it.
    """
    milestone = await service.get_milestone(
        session, milestone_id, organization_id=principal.organization_id, for_update=True
    )
    check_if_match(if_match, milestone.version)
    milestone = await service.update_milestone(
        session, actor=principal.actor, milestone=milestone, payload=body
    )
    set_etag(response, milestone.version)
    return MilestonePublic.model_validate(milestone)


@router.delete(
    "/v1/milestones/{milestone_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
async def delete_milestone(
    milestone_id: uuid.UUID,
    session: SessionDep,
    principal: Writer,
    if_match: IfMatchHeader = None,
) -> None:
    """Delete a milestone (cancel it instead to keep it on record)."""
    milestone = await service.get_milestone(
        session, milestone_id, organization_id=principal.organization_id, for_update=True
    )
    check_if_match(if_match, milestone.version)
    await service.delete_milestone(session, actor=principal.actor, milestone=milestone)
