"""Routes of contacts (`/v1/organizations/{id}/contacts`, `/v1/contacts`) and of an
agreement's focal points (`/v1/agreements/{id}/focal-points`)."""

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
from shared.agreements.reads import ensure_visible, get_agreement
from shared.contacts import service
from shared.contacts.schemas import (
    ContactCreate,
    ContactPublic,
    ContactUpdate,
    FocalPointsPublic,
    FocalPointsPut,
)

router = APIRouter(tags=["contacts"])


@router.post(
    "/v1/organizations/{organization_id}/contacts",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
)
async def create_contact(
    organization_id: uuid.UUID,
    body: ContactCreate,
    session: SessionDep,
    principal: Writer,
    response: Response,
) -> ContactPublic:
    """Add a person at an organization: `name`, `email` (validated), and optionally
    `title`, `phone` and `languages` (BCP 47 tags such as `en`, `zh-Hans`, `ur`).

    An organization-bound key adds contacts to its own organization only (403).
    Contacts are personal data: readable with `read`, kept in the audit log,
    never written to a log line.
    """
    service.ensure_may_change_contacts_of(principal.organization_id, organization_id)
    contact = await service.create_contact(
        session, actor=principal.actor, organization_id=organization_id, payload=body
    )
    response.headers["Location"] = f"/v1/contacts/{contact.id}"
    set_etag(response, contact.version)
    return ContactPublic.model_validate(contact)


@router.get("/v1/contacts", responses=problem_responses(400, 401, 403, 422))
async def list_contacts(
    session: SessionDep,
    principal: Reader,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    organization_id: uuid.UUID | None = Query(
        default=None, description="Only this organization's."
    ),
    q: Annotated[
        str | None, Query(max_length=200, description="Part of the name, email or title.")
    ] = None,
) -> Page[ContactPublic]:
    """List contacts in creation order.

    An organization-bound key sees its own organization's contacts and those of
    the organizations that are parties to its agreements.
    """
    rows = await service.list_contacts(
        session,
        after=decode_cursor(cursor),
        limit=limit,
        organization_scope=principal.organization_id,
        organization_id=organization_id,
        q=q,
    )
    return paginate(rows, limit, ContactPublic)


@router.get("/v1/contacts/{contact_id}", responses=problem_responses(401, 403, 404, 422))
async def get_contact(
    contact_id: uuid.UUID, session: SessionDep, principal: Reader, response: Response
) -> ContactPublic:
    """Fetch one contact; the `ETag` header carries its version."""
    contact = await service.get_contact(
        session, contact_id, organization_scope=principal.organization_id
    )
    set_etag(response, contact.version)
    return ContactPublic.model_validate(contact)


@router.patch(
    "/v1/contacts/{contact_id}", responses=problem_responses(401, 403, 404, 412, 422, 428)
)
async def update_contact(
    contact_id: uuid.UUID,
    body: ContactUpdate,
    session: SessionDep,
    principal: Writer,
    response: Response,
    if_match: IfMatchHeader = None,
) -> ContactPublic:
    """Change a contact (its organization excepted). Needs `If-Match` with its current ETag."""
    contact = await service.get_contact(
        session, contact_id, organization_scope=principal.organization_id, for_update=True
    )
    service.ensure_may_change_contacts_of(principal.organization_id, contact.organization_id)
    check_if_match(if_match, contact.version)
    contact = await service.update_contact(
        session, actor=principal.actor, contact=contact, payload=body
    )
    set_etag(response, contact.version)
    return ContactPublic.model_validate(contact)


@router.delete(
    "/v1/contacts/{contact_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def delete_contact(
    contact_id: uuid.UUID,
    session: SessionDep,
    principal: Writer,
    if_match: IfMatchHeader = None,
) -> None:
    """Delete a contact; 409 while an agreement names them as a focal point
    (the problem's `agreements` lists those agreements' references)."""
    contact = await service.get_contact(
        session, contact_id, organization_scope=principal.organization_id, for_update=True
    )
    service.ensure_may_change_contacts_of(principal.organization_id, contact.organization_id)
    check_if_match(if_match, contact.version)
    await service.delete_contact(session, actor=principal.actor, contact=contact)


@router.get(
    "/v1/agreements/{agreement_id}/focal-points",
    tags=["agreements"],
    responses=problem_responses(401, 403, 404, 422),
)
async def get_focal_points(
    agreement_id: uuid.UUID, session: SessionDep, principal: Reader
) -> FocalPointsPublic:
    """The agreement's focal points, `[{contact_id, role, organization_id, name, email}]`,
    in the order they were set."""
    await ensure_visible(session, agreement_id, organization_id=principal.organization_id)
    return await service.read_focal_points(session, agreement_id)


@router.put(
    "/v1/agreements/{agreement_id}/focal-points",
    tags=["agreements"],
    responses=problem_responses(401, 403, 404, 422),
)
async def put_focal_points(
    agreement_id: uuid.UUID, body: FocalPointsPut, session: SessionDep, principal: Writer
) -> FocalPointsPublic:
    """Replace the agreement's focal points with `focal_points: [{contact_id, role}]`
    (role `focal_point`, `legal`, `finance`, `technical` or `signatory`).

    Each contact must work at a party to the agreement (422 naming the entry
    otherwise); a contact may hold several roles, but each role once. Sending
    the set it already has changes nothing and emits no event; otherwise
    `agreement.focal_points_changed` is emitted in the agreement's sequence.
    """
    await get_agreement(
        session, agreement_id, organization_id=principal.organization_id, for_update=True
    )
    return await service.replace_focal_points(
        session, actor=principal.actor, agreement_id=agreement_id, payload=body
    )
