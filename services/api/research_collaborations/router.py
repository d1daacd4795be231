"""Routes of `/v1/research-collaborations`: joint research and its outputs."""

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
    paginate,
    set_etag,
)
from services.api.problems import problem_responses
from shared.research_collaborations import service
from shared.research_collaborations.schemas import (
    OutputCreate,
    ResearchCollaborationCreate,
    ResearchCollaborationPublic,
    ResearchCollaborationUpdate,
    ResearchStatus,
)

router = APIRouter(prefix="/v1/research-collaborations", tags=["research collaborations"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
)
async def create_research_collaboration(
    body: ResearchCollaborationCreate, session: SessionDep, principal: Writer, response: Response
) -> ResearchCollaborationPublic:
    """Record a research collaboration, under an agreement or on its own.

    Exactly one participant has role `lead`; participants must be existing
    organizations, and each researcher's `organization_id` one of the
    participants. ORCID iDs are checked with their ISO 7064 MOD 11-2 check
    digit, output DOIs against `^10\\.\\d{4,9}/\\S+$`. With an
    organization-bound key, a collaboration without an agreement must count
    that organization among its participants.
    """
    collaboration = await service.create_collaboration(
        session,
        actor=principal.actor,
        payload=body,
        organization_scope=principal.organization_id,
    )
    response.headers["Location"] = f"/v1/research-collaborations/{collaboration.id}"
    set_etag(response, collaboration.version)
    return ResearchCollaborationPublic.model_validate(collaboration)


@router.get("", responses=problem_responses(400, 401, 403, 422))
async def list_research_collaborations(
    session: SessionDep,
    principal: Reader,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    agreement_id: uuid.UUID | None = Query(default=None, description="Only this agreement's."),
    status: ResearchStatus | None = None,
    organization_id: uuid.UUID | None = Query(
        default=None, description="Only those this organization takes part in."
    ),
    q: Annotated[
        str | None, Query(max_length=200, description="Part of the title or research area.")
    ] = None,
) -> Page[ResearchCollaborationPublic]:
    """List research collaborations in creation order, with filters."""
    rows = await service.list_collaborations(
        session,
        after=decode_cursor(cursor),
        limit=limit,
        organization_scope=principal.organization_id,
        agreement_id=agreement_id,
        status=status,
        organization_id=organization_id,
        q=q,
    )
    return paginate(rows, limit, ResearchCollaborationPublic)


@router.get("/{collaboration_id}", responses=problem_responses(401, 403, 404, 422))
async def get_research_collaboration(
    collaboration_id: uuid.UUID, session: SessionDep, principal: Reader, response: Response
) -> ResearchCollaborationPublic:
    """Fetch one research collaboration; the `ETag` header carries its version."""
    collaboration = await service.get_collaboration(
        session, collaboration_id, organization_id=principal.organization_id
    )
    set_etag(response, collaboration.version)
    return ResearchCollaborationPublic.model_validate(collaboration)


@router.patch("/{collaboration_id}", responses=problem_responses(401, 403, 404, 409, 412, 422, 428))
async def update_research_collaboration(
    collaboration_id: uuid.UUID,
    body: ResearchCollaborationUpdate,
    session: SessionDep,
    principal: Writer,
    response: Response,
    if_match: IfMatchHeader = None,
) -> ResearchCollaborationPublic:
    """Change a research collaboration, including its `status`. Needs `If-Match`.

    Status moves: proposed -> active -> concluded; proposed | active ->
    cancelled (409 with `allowed` otherwise). Lists given (`participants`,
    `researchers`, `outputs`) replace the stored ones, under the creation rules.
    """
    collaboration = await service.get_collaboration(
        session, collaboration_id, organization_id=principal.organization_id, for_update=True
    )
    check_if_match(if_match, collaboration.version)
    collaboration = await service.update_collaboration(
        session, actor=principal.actor, collaboration=collaboration, payload=body
    )
    set_etag(response, collaboration.version)
    return ResearchCollaborationPublic.model_validate(collaboration)


@router.delete(
    "/{collaboration_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
async def delete_research_collaboration(
    collaboration_id: uuid.UUID,
    session: SessionDep,
    principal: Writer,
    if_match: IfMatchHeader = None,
) -> None:
    """Delete a research collaboration with its researchers and outputs."""
    collaboration = await service.get_collaboration(
        session, collaboration_id, organization_id=principal.organization_id, for_update=True
    )
    check_if_match(if_match, collaboration.version)
    await service.delete_collaboration(session, actor=principal.actor, collaboration=collaboration)


@router.post(
    "/{collaboration_id}/outputs",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
)
async def add_research_output(
    collaboration_id: uuid.UUID,
    body: OutputCreate,
    session: SessionDep,
    principal: Writer,
    response: Response,
) -> ResearchCollaborationPublic:
    """Add an output (publication, report, dataset, software, patent, policy brief).

    Answers the whole collaboration, its new output last in `outputs`, with
    its new `ETag`; emits `research_collaboration.output_added`.
    """
    collaboration = await service.get_collaboration(
        session, collaboration_id, organization_id=principal.organization_id, for_update=True
    )
    await service.add_output(
        session, actor=principal.actor, collaboration=collaboration, payload=body
    )
    response.headers["Location"] = f"/v1/research-collaborations/{collaboration.id}"
    set_etag(response, collaboration.version)
    return ResearchCollaborationPublic.model_validate(collaboration)
