"""Routes of the exports in the partners' formats (SPEC section 14): IATI XML."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.api.deps import Reader, SessionDep, SettingsDep
from services.api.problems import problem_responses
from shared.agreements.schemas import AgreementStatus
from shared.iati import service as iati

router = APIRouter(tags=["exports"])

XML = "application/xml"
_IATI_DOCUMENT = {
    "description": "An IATI 2.03 `iati-activities` document.",
    "content": {XML: {"schema": {"type": "string"}}},
}


@router.get(
    "/v1/agreements/{agreement_id}/iati.xml",
    response_class=Response,
    responses={200: _IATI_DOCUMENT, **problem_responses(401, 403, 404, 409, 422)},
)
async def agreement_iati(
    agreement_id: uuid.UUID, session: SessionDep, settings: SettingsDep, principal: Reader
) -> Response:
    """The agreement and its initiatives as an IATI 2.03 activities document.

    One `iati-activity` for the agreement (hierarchy 1) and one per initiative
    (hierarchy 2), linked by `related-activity`; identifiers start with the
    reporting organisation's ref (`ACCORDS_IATI_REPORTING_ORG_REF`). Answers
    409 while the reporting organisation is not configured. The document
    validates against the official IATI 2.03 schema (`accords iati validate`).
    """
    document = await iati.agreement_document(
        session, settings, agreement_id, organization_scope=principal.organization_id
    )
    return Response(document, media_type=XML)


@router.get(
    "/v1/exports/iati.xml",
    response_class=StreamingResponse,
    responses={200: _IATI_DOCUMENT, **problem_responses(401, 403, 404, 409, 422)},
)
async def portfolio_iati(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    organization_id: uuid.UUID | None = Query(
        default=None, description="Only agreements this organization is party to."
    ),
    status: AgreementStatus | None = None,
) -> StreamingResponse:
    """Every agreement the key may see (filtered) as one IATI 2.03 document, streamed.

    Agreements are read and written a batch at a time, so memory stays flat
    however large the portfolio. 404 when no agreement matches (an IATI
    document needs one activity or more); 409 while the reporting
    organisation is not configured.
    """
    chunks = await iati.portfolio_stream(
        session,
        request.app.state.read_sessionmaker,
        settings,
        organization_scope=principal.organization_id,
        organization_id=organization_id,
        status=status,
    )
    return StreamingResponse(chunks, media_type=XML)
