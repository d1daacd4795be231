"""Routes of `/v1/engagements`: signing ceremonies, visits, meetings and the like."""

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
    paginate,
    set_etag,
)
from services.api.problems import problem_responses
from shared.engagements import service
from shared.engagements.schemas import (
    EngagementCreate,
    EngagementKind,
    EngagementPublic,
    EngagementUpdate,
)

router = APIRouter(prefix="/v1/engagements", tags=["engagements"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
)
async def record_engagement(
    body: EngagementCreate, session: SessionDep, principal: Writer, response: Response
) -> EngagementPublic:
    """Record an engagement under an agreement: a signing ceremony, delegation
    visit, meeting, workshop, training or conference.

    The agreement, the host and every participant must exist (422 otherwise);
    `ends_on` must not come before `starts_on`.
    """
    engagement = await service.create_engagement(
        session,
        actor=principal.actor,
        payload=body,
        organization_scope=principal.organization_id,
    )
    response.headers["Location"] = f"/v1/engagements/{engagement.id}"
    set_etag(response, engagement.version)
    return EngagementPublic.model_validate(engagement)


@router.get("", responses=problem_responses(400, 401, 403, 422))
async def list_engagements(
    session: SessionDep,
    principal: Reader,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    agreement_id: uuid.UUID | None = Query(default=None, description="Only this agreement's."),
    kind: EngagementKind | None = None,
    organization_id: uuid.UUID | None = Query(
        default=None, description="Only those this organization hosted or took part in."
    ),
    starts_after: dt.date | None = Query(default=None, description="Only those starting after."),
    starts_before: dt.date | None = Query(default=None, description="Only those starting before."),
) -> Page[EngagementPublic]:
    """List engagements in creation order, with filters."""
    rows = await service.list_engagements(
        session,
        after=decode_cursor(cursor),
        limit=limit,
        organization_scope=principal.organization_id,
        agreement_id=agreement_id,
        kind=kind,
        organization_id=organization_id,
        starts_after=starts_after,
        starts_before=starts_before,
    )
    return paginate(rows, limit, EngagementPublic)


@router.get("/{engagement_id}", responses=problem_responses(401, 403, 404, 422))
async def get_engagement(
    engagement_id: uuid.UUID, session: SessionDep, principal: Reader, response: Response
) -> EngagementPublic:
    """Fetch one engagement; the `ETag` header carries its version."""
    engagement = await service.get_engagement(
        session, engagement_id, organization_id=principal.organization_id
    )
    set_etag(response, engagement.version)
    return EngagementPublic.model_validate(engagement)


@router.patch("/{engagement_id}", responses=problem_responses(401, 403, 404, 412, 422, 428))
async def update_engagement(
    engagement_id: uuid.UUID,
    body: EngagementUpdate,
    session: SessionDep,
    principal: Writer,
    response: Response,
    if_match: IfMatchHeader = None,
) -> EngagementPublic:
    """Change an engagement (its agreement excepted). Needs `If-Match` with its current ETag.

    `participant_organization_ids` and `outcomes`, when given, replace the lists.
    """
    engagement = await service.get_engagement(
        session, engagement_id, organization_id=principal.organization_id, for_update=True
    )
    check_if_match(if_match, engagement.version)
    engagement = await service.update_engagement(
        session, actor=principal.actor, engagement=engagement, payload=body
    )
    set_etag(response, engagement.version)
    return EngagementPublic.model_validate(engagement)


@router.delete(
    "/{engagement_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def delete_engagement(
    engagement_id: uuid.UUID,
    session: SessionDep,
    principal: Writer,
    if_match: IfMatchHeader = None,
) -> None:
    """Delete an engagement; 409 while milestones name it as the decision that made them."""
    engagement = await service.get_engagement(
        session, engagement_id, organization_id=principal.organization_id, for_update=True
    )
    check_if_match(if_match, engagement.version)
    await service.delete_engagement(session, actor=principal.actor, engagement=engagement)
