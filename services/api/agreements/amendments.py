"""Routes of amendments and terms versions: `/v1/agreements/{id}/amendments`,
`/v1/amendments/{id}`, `/v1/agreements/{id}/versions`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Path, Query, Response, status

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
from services.api.scoping import ensure_party
from shared.agreements import amendments, versions
from shared.agreements.legal_schemas import (
    AgreementVersionPublic,
    AmendmentCreate,
    AmendmentPublic,
    AmendmentStatus,
    AmendmentUpdate,
)
from shared.agreements.reads import ensure_visible, get_agreement
from shared.clock import today

router = APIRouter(tags=["amendments"])


@router.post(
    "/v1/agreements/{agreement_id}/amendments",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_amendment(
    agreement_id: uuid.UUID,
    body: AmendmentCreate,
    session: SessionDep,
    principal: Writer,
    response: Response,
) -> AmendmentPublic:
    """Record an amendment: an effective-dated change of the agreement's terms.

    `changes` is a partial agreement (`title`, `summary`, `focus_areas`,
    `objectives`, `parties`, `effective_from`, `expires_on`), checked by the
    agreement's own rules, as a PATCH is: dates in order against the stored
    values, objective refs unique, parties exist (422); initiative leads and
    parties with acts stay parties, objectives taken up by initiatives stay,
    a signed agreement keeps two signatories (409). Unlike a PATCH, an
    amendment may change parties and objectives after signing: that is what
    it is for. A completed, terminated, expired or cancelled agreement is not
    amended (409); `effective_from` cannot precede the version in force (422).

    When `effective_from` is today or past, the amendment is applied at once,
    in this transaction (`status` `applied`); otherwise it stays `pending`
    until the sweep applies it on that day. Applying bumps the agreement's
    `version` and `terms_version`, writes the new terms version and emits
    `agreement.amended`.
    """
    agreement = await get_agreement(
        session, agreement_id, organization_id=principal.organization_id, for_update=True
    )
    ensure_party(principal.organization_id, body.changes.parties)
    amendment = await amendments.create_amendment(
        session, actor=principal.actor, agreement=agreement, payload=body, today=today()
    )
    response.headers["Location"] = f"/v1/amendments/{amendment.id}"
    set_etag(response, amendment.version)
    return AmendmentPublic.model_validate(amendment)


@router.get(
    "/v1/agreements/{agreement_id}/amendments",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_amendments(
    agreement_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    status: AmendmentStatus | None = Query(
        default=None, description="Only amendments in this status."
    ),
) -> Page[AmendmentPublic]:
    """The agreement's amendments in the order they were recorded."""
    await ensure_visible(session, agreement_id, organization_id=principal.organization_id)
    rows = await amendments.list_amendments(
        session, agreement_id=agreement_id, status=status, after=decode_cursor(cursor), limit=limit
    )
    return paginate(rows, limit, AmendmentPublic)


@router.get("/v1/amendments/{amendment_id}", responses=problem_responses(401, 403, 404, 422))
async def get_amendment(
    amendment_id: uuid.UUID, session: SessionDep, principal: Reader, response: Response
) -> AmendmentPublic:
    """Fetch one amendment (any status); the `ETag` header carries its version."""
    amendment = await amendments.get_amendment(
        session, amendment_id, organization_id=principal.organization_id
    )
    set_etag(response, amendment.version)
    return AmendmentPublic.model_validate(amendment)


@router.patch(
    "/v1/amendments/{amendment_id}",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_amendment(
    amendment_id: uuid.UUID,
    body: AmendmentUpdate,
    session: SessionDep,
    principal: Writer,
    response: Response,
    if_match: IfMatchHeader = None,
) -> AmendmentPublic:
    """Change a `pending` amendment. Needs `If-Match` with its current ETag.

    `changes`, when given, replaces the whole set and is checked as on
    create. Moving `effective_from` to today or a past date applies it at
    once. An applied amendment is the record and cannot change (409); nor
    can a withdrawn one.
    """
    amendment = await amendments.get_amendment(
        session, amendment_id, organization_id=principal.organization_id
    )
    agreement = await get_agreement(session, amendment.agreement_id, for_update=True)
    await session.refresh(amendment)
    check_if_match(if_match, amendment.version)
    if body.changes is not None:
        ensure_party(principal.organization_id, body.changes.parties)
    amendment = await amendments.update_amendment(
        session,
        actor=principal.actor,
        agreement=agreement,
        amendment=amendment,
        payload=body,
        today=today(),
    )
    set_etag(response, amendment.version)
    return AmendmentPublic.model_validate(amendment)


@router.delete(
    "/v1/amendments/{amendment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def delete_amendment(
    amendment_id: uuid.UUID,
    session: SessionDep,
    principal: Writer,
    if_match: IfMatchHeader = None,
) -> None:
    """Withdraw a `pending` amendment. Needs `If-Match` with its current ETag.

    It stays readable with `status` `withdrawn`. An applied amendment is the
    record and cannot be deleted (409); record a new amendment instead.
    """
    amendment = await amendments.get_amendment(
        session, amendment_id, organization_id=principal.organization_id
    )
    agreement = await get_agreement(session, amendment.agreement_id, for_update=True)
    await session.refresh(amendment)
    check_if_match(if_match, amendment.version)
    await amendments.withdraw_amendment(
        session, actor=principal.actor, agreement=agreement, amendment=amendment
    )


@router.get(
    "/v1/agreements/{agreement_id}/versions",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_versions(
    agreement_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[AgreementVersionPublic]:
    """Every terms version of the agreement, `n` = 1, 2, ...: when each took
    effect, the amendment that made it (null for the first) and its terms.

    Version 1 holds the terms as first agreed (a PATCH corrects the version
    in force rather than adding one); each applied amendment adds the next.
    """
    await ensure_visible(session, agreement_id, organization_id=principal.organization_id)
    rows = await versions.list_versions(
        session, agreement_id=agreement_id, after=decode_cursor(cursor), limit=limit
    )
    return paginate(rows, limit, AgreementVersionPublic)


@router.get(
    "/v1/agreements/{agreement_id}/versions/{n}",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_version(
    agreement_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    n: int = Path(ge=1, le=1_000_000, description="The terms version number."),
) -> AgreementVersionPublic:
    """One terms version of the agreement (404 when it has no such version)."""
    await ensure_visible(session, agreement_id, organization_id=principal.organization_id)
    version = await versions.get_version(session, agreement_id=agreement_id, n=n)
    return AgreementVersionPublic.model_validate(version)
