"""Routes of `/v1/agreements`: the registry and the lifecycle."""

from __future__ import annotations

import datetime as dt
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
from services.api.scoping import ensure_party
from shared.agreements import lifecycle, reads, service, versions
from shared.agreements.schemas import (
    AgreementCreate,
    AgreementPublic,
    AgreementStatus,
    AgreementUpdate,
    InstrumentType,
    StatusChangePublic,
    TransitionRequest,
)

router = APIRouter(prefix="/v1/agreements", tags=["agreements"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AgreementPublic,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_agreement(
    body: AgreementCreate, session: SessionDep, principal: Writer, response: Response
) -> Response:
    """Register an agreement (an MoU, framework agreement, treaty, ...) in `draft`.

    Every party must be an existing organization; `reference` must be unique
    (409 otherwise); objective refs must be unique; `expires_on` must come
    after `effective_from`.
    """
    ensure_party(principal.organization_id, body.parties)
    created = await service.create_agreement(session, actor=principal.actor, payload=body)
    response.status_code = status.HTTP_201_CREATED
    response.headers["Location"] = f"/v1/agreements/{created.public.id}"
    set_etag(response, created.public.version)
    return rendered_answer(created.body, response)


@router.get(
    "", response_model=Page[AgreementPublic], responses=problem_responses(400, 401, 403, 422)
)
async def list_agreements(
    session: SessionDep,
    principal: Reader,
    response: Response,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    status: AgreementStatus | None = None,
    organization_id: uuid.UUID | None = Query(
        default=None, description="Only agreements this organization is party to."
    ),
    country: Annotated[
        str | None,
        Query(
            min_length=2, max_length=2, description="Only agreements with a party of this country."
        ),
    ] = None,
    instrument_type: InstrumentType | None = None,
    focus_area: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Part of the reference, title or summary.")
    ] = None,
    expires_before: dt.date | None = Query(
        default=None, description="Only agreements expiring before this date."
    ),
) -> Page[AgreementPublic] | Response:
    """List agreements in creation order, with filters."""
    query = {
        "after": decode_cursor(cursor),
        "limit": limit,
        "organization_scope": principal.organization_id,
        "status": status,
        "organization_id": organization_id,
        "country": country,
        "instrument_type": instrument_type,
        "focus_area": focus_area,
        "q": q,
        "expires_before": expires_before,
    }
    return await list_answer(
        session,
        reads.list_rendered_agreements,
        reads.list_agreements,
        query,
        AgreementPublic,
        response,
    )


@router.get(
    "/{agreement_id}",
    response_model=AgreementPublic,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_agreement(
    agreement_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    response: Response,
    as_of: dt.date | None = Query(
        default=None,
        description="Answer the terms in force on this date (see the route's description).",
    ),
) -> AgreementPublic | Response:
    """Fetch one agreement with its parties; the `ETag` header carries its version.

    Each party entry shows the dates its acts give: `signed_on`, `consented_on`,
    `withdrawn_on`.

    With `as_of=DATE`, the terms (`title`, `summary`, `focus_areas`,
    `objectives`, `parties`, `effective_from`, `expires_on`) and
    `terms_version` are those of the terms version in force on that date: the
    latest version whose `effective_from` is on or before it. Each party's
    dates count only its acts on or before that date. The status and
    `version` are the agreement's current ones. **Before the first version's
    `effective_from`** (when the agreement was not yet in force) the first
    version is answered: the terms as first agreed, with `terms_version` 1;
    compare the date with `effective_from` to tell. The history of versions
    is at `GET /v1/agreements/{id}/versions`.
    """
    if as_of is None:
        stored = await reads.read_rendered_agreement(
            session, agreement_id, organization_id=principal.organization_id
        )
        if stored is not None:
            set_etag(response, stored.version)
            return rendered_answer(stored.rendered, response)
    agreement = await reads.read_public_agreement(
        session, agreement_id, organization_id=principal.organization_id
    )
    if as_of is not None:
        agreement = await versions.agreement_as_of(session, agreement, on=as_of)
    set_etag(response, agreement.version)
    return agreement


@router.patch("/{agreement_id}", responses=problem_responses(401, 403, 404, 409, 412, 422, 428))
async def update_agreement(
    agreement_id: uuid.UUID,
    body: AgreementUpdate,
    session: SessionDep,
    principal: Writer,
    response: Response,
    if_match: IfMatchHeader = None,
) -> AgreementPublic:
    """Change fields of an agreement. Needs `If-Match` with its current ETag.

    Parties and objectives are the terms: they can change only in `draft` or
    `negotiation` (409 afterwards). The status changes only through
    `POST /v1/agreements/{id}/transitions`.
    """
    agreement = await reads.get_agreement(
        session, agreement_id, organization_id=principal.organization_id, for_update=True
    )
    check_if_match(if_match, agreement.version)
    ensure_party(principal.organization_id, body.parties)
    agreement = await service.update_agreement(
        session, actor=principal.actor, agreement=agreement, payload=body
    )
    set_etag(response, agreement.version)
    return AgreementPublic.model_validate(agreement)


@router.delete(
    "/{agreement_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def delete_agreement(
    agreement_id: uuid.UUID,
    session: SessionDep,
    principal: Writer,
    if_match: IfMatchHeader = None,
) -> None:
    """Delete an agreement still in `draft`, `negotiation` or `cancelled` (409 otherwise)."""
    agreement = await reads.get_agreement(
        session, agreement_id, organization_id=principal.organization_id, for_update=True
    )
    check_if_match(if_match, agreement.version)
    await service.delete_agreement(session, actor=principal.actor, agreement=agreement)


@router.post(
    "/{agreement_id}/transitions",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def transition_agreement(
    agreement_id: uuid.UUID,
    body: TransitionRequest,
    session: SessionDep,
    principal: Writer,
    response: Response,
) -> AgreementPublic:
    """Move the agreement along its lifecycle.

        draft -> negotiation -> signed -> active <-> suspended
        active|suspended -> completed | terminated     signed|active -> expired
        draft|negotiation -> cancelled

    `signed` needs two or more `signatory` parties and `signed_on` (or `on`);
    `terminated` needs a `reason`. A move that is not allowed answers 409 with
    the allowed targets in `allowed`; a move whose conditions fail answers 409
    naming what is missing.
    """
    agreement = await reads.get_agreement(
        session, agreement_id, organization_id=principal.organization_id, for_update=True
    )
    agreement = await lifecycle.transition_agreement(
        session, actor=principal.actor, agreement=agreement, request=body
    )
    set_etag(response, agreement.version)
    return AgreementPublic.model_validate(agreement)


@router.get(
    "/{agreement_id}/history",
    response_model=Page[StatusChangePublic],
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def get_agreement_history(
    agreement_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    response: Response,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[StatusChangePublic] | Response:
    """The agreement's lifecycle moves, oldest first: who moved it, when and why."""
    await reads.ensure_visible(session, agreement_id, organization_id=principal.organization_id)
    query = {"agreement_id": agreement_id, "after": decode_cursor(cursor), "limit": limit}
    return await list_answer(
        session,
        reads.list_rendered_history,
        reads.list_history,
        query,
        StatusChangePublic,
        response,
    )
