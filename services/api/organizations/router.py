"""Routes of `/v1/organizations`."""

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
from services.api.scoping import (
    ensure_may_change_organization,
    ensure_may_register_organizations,
)
from shared.organizations import service
from shared.organizations.schemas import (
    OrganizationCreate,
    OrganizationKind,
    OrganizationPublic,
    OrganizationUpdate,
)

router = APIRouter(prefix="/v1/organizations", tags=["organizations"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_organization(
    body: OrganizationCreate, session: SessionDep, principal: Writer, response: Response
) -> OrganizationPublic:
    """Register an organization (a government agency, institute, university, ...).

    The country is validated against ISO 3166-1; a ROR id, when given, must be
    a `https://ror.org/0…` URL.
    """
    ensure_may_register_organizations(principal.organization_id)
    organization = await service.create_organization(session, actor=principal.actor, payload=body)
    response.headers["Location"] = f"/v1/organizations/{organization.id}"
    set_etag(response, organization.version)
    return OrganizationPublic.model_validate(organization)


@router.get("", responses=problem_responses(400, 401, 403, 422))
async def list_organizations(
    session: SessionDep,
    principal: Reader,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    country: Annotated[
        str | None, Query(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    ] = None,
    kind: OrganizationKind | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Part of the name or acronym")
    ] = None,
) -> Page[OrganizationPublic]:
    """List organizations in creation order, filtered by country, kind or a search term."""
    rows = await service.list_organizations(
        session,
        after=decode_cursor(cursor),
        limit=limit,
        country=country,
        kind=kind,
        q=q,
    )
    return paginate(rows, limit, OrganizationPublic)


@router.get("/{organization_id}", responses=problem_responses(401, 403, 404, 422))
async def get_organization(
    organization_id: uuid.UUID, session: SessionDep, principal: Reader, response: Response
) -> OrganizationPublic:
    """Fetch one organization; the `ETag` header carries its version."""
    organization = await service.get_organization(session, organization_id)
    set_etag(response, organization.version)
    return OrganizationPublic.model_validate(organization)


@router.patch("/{organization_id}", responses=problem_responses(401, 403, 404, 412, 422, 428))
async def update_organization(
    organization_id: uuid.UUID,
    body: OrganizationUpdate,
    session: SessionDep,
    principal: Writer,
    response: Response,
    if_match: IfMatchHeader = None,
) -> OrganizationPublic:
    """Change some fields of an organization. Needs `If-Match` with its current ETag."""
    organization = await service.get_organization(session, organization_id)
    ensure_may_change_organization(principal.organization_id, organization.id)
    check_if_match(if_match, organization.version)
    organization = await service.update_organization(
        session, actor=principal.actor, organization=organization, payload=body
    )
    set_etag(response, organization.version)
    return OrganizationPublic.model_validate(organization)


@router.delete(
    "/{organization_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def delete_organization(
    organization_id: uuid.UUID,
    session: SessionDep,
    principal: Writer,
    if_match: IfMatchHeader = None,
) -> None:
    """Delete an organization that is party to no agreement (409 otherwise)."""
    organization = await service.get_organization(session, organization_id)
    ensure_may_register_organizations(principal.organization_id)
    check_if_match(if_match, organization.version)
    await service.delete_organization(session, actor=principal.actor, organization=organization)
