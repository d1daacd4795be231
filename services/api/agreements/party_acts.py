"""Routes of party acts: `/v1/agreements/{id}/party-acts` and `/v1/party-acts/{id}`."""

from __future__ import annotations

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
from shared.agreements import party_acts
from shared.agreements.legal_schemas import ActKind, PartyActCreate, PartyActPublic
from shared.agreements.reads import ensure_visible, get_agreement

router = APIRouter(tags=["party acts"])


@router.post(
    "/v1/agreements/{agreement_id}/party-acts",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def record_party_act(
    agreement_id: uuid.UUID,
    body: PartyActCreate,
    session: SessionDep,
    principal: Writer,
    response: Response,
) -> PartyActPublic:
    """Record what a party did: a `signature`, its consent to be bound
    (`ratification`, `acceptance`, `approval`, `accession`) or a `withdrawal`.

    The organization must be a party (422 otherwise). A consent needs a
    signature of the same party on or before it, except `accession`; nothing
    can be dated after the party's withdrawal, and it withdraws once; acts are
    dated today or earlier. Breaking any of these answers 409 saying which.

    The agreement's party entry then shows `signed_on` (its latest signature),
    `consented_on` (its latest consent) and `withdrawn_on`, and the agreement
    gets a new `version`. A move to `signed` without a date takes the later
    signature once two signatories have signed; a `binding` agreement moves to
    `active` only once every signatory has consented.
    """
    agreement = await get_agreement(
        session, agreement_id, organization_id=principal.organization_id, for_update=True
    )
    act = await party_acts.record_party_act(
        session, actor=principal.actor, agreement=agreement, payload=body
    )
    response.headers["Location"] = f"/v1/party-acts/{act.id}"
    set_etag(response, act.version)
    return PartyActPublic.model_validate(act)


@router.get(
    "/v1/agreements/{agreement_id}/party-acts",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_party_acts(
    agreement_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    organization_id: uuid.UUID | None = Query(default=None, description="Only this party's acts."),
    act: ActKind | None = Query(default=None, description="Only acts of this kind."),
) -> Page[PartyActPublic]:
    """The agreement's party acts in the order they were recorded."""
    await ensure_visible(session, agreement_id, organization_id=principal.organization_id)
    rows = await party_acts.list_party_acts(
        session,
        agreement_id=agreement_id,
        organization_id=organization_id,
        act=act,
        after=decode_cursor(cursor),
        limit=limit,
    )
    return paginate(rows, limit, PartyActPublic)


@router.get("/v1/party-acts/{act_id}", responses=problem_responses(401, 403, 404, 422))
async def get_party_act(
    act_id: uuid.UUID, session: SessionDep, principal: Reader, response: Response
) -> PartyActPublic:
    """Fetch one party act; the `ETag` header carries its version."""
    act = await party_acts.get_party_act(session, act_id, organization_id=principal.organization_id)
    set_etag(response, act.version)
    return PartyActPublic.model_validate(act)


@router.delete(
    "/v1/party-acts/{act_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def delete_party_act(
    act_id: uuid.UUID,
    session: SessionDep,
    principal: Writer,
    if_match: IfMatchHeader = None,
) -> None:
    """Delete an act recorded in error. Needs `If-Match` with its ETag.

    The party's remaining acts must still stand: a signature that a
    ratification rests on cannot go first (409). The party's dates on the
    agreement are recomputed; the agreement's status is left as it is.
    """
    act = await party_acts.get_party_act(session, act_id, organization_id=principal.organization_id)
    agreement = await get_agreement(session, act.agreement_id, for_update=True)
    check_if_match(if_match, act.version)
    await party_acts.delete_party_act(session, actor=principal.actor, agreement=agreement, act=act)
