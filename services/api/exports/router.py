"""Routes of the exports in the partners' formats (SPEC section 14): IATI XML, CSV, XLSX."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.api.deps import Reader, SessionDep, SettingsDep
from services.api.problems import problem_responses
from shared.agreements.schemas import AgreementStatus, InstrumentType
from shared.engagements.schemas import EngagementKind
from shared.exports.resources import SHEETS
from shared.exports.sheets import csv_stream, first_page, rows_of, xlsx_stream
from shared.iati import service as iati
from shared.initiatives.schemas import InitiativeStatus
from shared.milestones.schemas import MilestoneStatus
from shared.reports.schemas import ReportStatus
from shared.validation import today

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


# Spreadsheets ---------------------------------------------------------------

SheetFormat = Literal["csv", "xlsx"]
_MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_SHEET = {
    "description": "Every row the key may see: CSV (UTF-8, header row) or XLSX.",
    "content": {
        media_type.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
        for media_type in _MEDIA_TYPES.values()
    },
}
_SHEET_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _SHEET,
    **problem_responses(401, 403, 404, 422),
}


async def _sheet_response(
    request: Request, session: Any, resource: str, format: str, filters: dict[str, Any]
) -> StreamingResponse:
    sheet = SHEETS[resource]
    first = await first_page(sheet, session, filters)
    pages = rows_of(sheet, first, request.app.state.read_sessionmaker, filters)
    if format == "csv":
        body = csv_stream(sheet.columns, pages)
    else:
        body = xlsx_stream(resource, sheet.columns, pages)
    return StreamingResponse(
        body,
        media_type=_MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{resource}.{format}"'},
    )


@router.get("/v1/exports/agreements.{format}", responses=_SHEET_RESPONSES)
async def export_agreements(
    request: Request,
    format: SheetFormat,
    session: SessionDep,
    principal: Reader,
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
) -> StreamingResponse:
    """Agreements as a spreadsheet (parties as `organization_id: role`).

    Every row the key may see (all pages, not one), streamed, with the list
    route's filters; `format` is `csv` (UTF-8, header row) or `xlsx`. Dates
    are ISO 8601, lists are joined with `; `, and text a spreadsheet would
    run as a formula (leading `=`, `+`, `-`, `@`) is prefixed with `'`.
    """
    filters = {
        "organization_scope": principal.organization_id,
        "status": status,
        "organization_id": organization_id,
        "country": country,
        "instrument_type": instrument_type,
        "focus_area": focus_area,
        "q": q,
        "expires_before": expires_before,
    }
    return await _sheet_response(request, session, "agreements", format, filters)


@router.get("/v1/exports/initiatives.{format}", responses=_SHEET_RESPONSES)
async def export_initiatives(
    request: Request,
    format: SheetFormat,
    session: SessionDep,
    principal: Reader,
    agreement_id: uuid.UUID | None = Query(default=None, description="Only this agreement's."),
    status: InitiativeStatus | None = None,
    lead_organization_id: uuid.UUID | None = Query(
        default=None, description="Only initiatives this organization leads."
    ),
    objective_ref: Annotated[
        str | None, Query(max_length=20, description="Only those carrying out this objective.")
    ] = None,
) -> StreamingResponse:
    """Initiatives as a spreadsheet.

    Every row the key may see (all pages, not one), streamed, with the list
    route's filters; `format` is `csv` (UTF-8, header row) or `xlsx`. Dates
    are ISO 8601, lists are joined with `; `, and text a spreadsheet would
    run as a formula (leading `=`, `+`, `-`, `@`) is prefixed with `'`.
    """
    filters = {
        "organization_scope": principal.organization_id,
        "agreement_id": agreement_id,
        "status": status,
        "lead_organization_id": lead_organization_id,
        "objective_ref": objective_ref,
    }
    return await _sheet_response(request, session, "initiatives", format, filters)


@router.get("/v1/exports/milestones.{format}", responses=_SHEET_RESPONSES)
async def export_milestones(
    request: Request,
    format: SheetFormat,
    session: SessionDep,
    principal: Reader,
    initiative_id: uuid.UUID | None = Query(default=None, description="Only this initiative's."),
    agreement_id: uuid.UUID | None = Query(default=None, description="Only this agreement's."),
    engagement_id: uuid.UUID | None = Query(
        default=None, description="Only those decided at this engagement."
    ),
    status: MilestoneStatus | None = None,
    overdue: bool | None = Query(default=None, description="`true`: only overdue milestones."),
    due_before: dt.date | None = Query(default=None, description="Only those due before this."),
) -> StreamingResponse:
    """Milestones as a spreadsheet.

    Every row the key may see (all pages, not one), streamed, with the list
    route's filters; `format` is `csv` (UTF-8, header row) or `xlsx`. Dates
    are ISO 8601, lists are joined with `; `, and text a spreadsheet would
    run as a formula (leading `=`, `+`, `-`, `@`) is prefixed with `'`.
    """
    filters = {
        "organization_scope": principal.organization_id,
        "initiative_id": initiative_id,
        "agreement_id": agreement_id,
        "engagement_id": engagement_id,
        "status": status,
        "overdue": overdue,
        "due_before": due_before,
    }
    return await _sheet_response(request, session, "milestones", format, filters)


@router.get("/v1/exports/engagements.{format}", responses=_SHEET_RESPONSES)
async def export_engagements(
    request: Request,
    format: SheetFormat,
    session: SessionDep,
    principal: Reader,
    agreement_id: uuid.UUID | None = Query(default=None, description="Only this agreement's."),
    kind: EngagementKind | None = None,
    organization_id: uuid.UUID | None = Query(
        default=None, description="Only those this organization hosted or took part in."
    ),
    starts_after: dt.date | None = Query(default=None, description="Only those starting after."),
    starts_before: dt.date | None = Query(default=None, description="Only those starting before."),
) -> StreamingResponse:
    """Engagements as a spreadsheet.

    Every row the key may see (all pages, not one), streamed, with the list
    route's filters; `format` is `csv` (UTF-8, header row) or `xlsx`. Dates
    are ISO 8601, lists are joined with `; `, and text a spreadsheet would
    run as a formula (leading `=`, `+`, `-`, `@`) is prefixed with `'`.
    """
    filters = {
        "organization_scope": principal.organization_id,
        "agreement_id": agreement_id,
        "kind": kind,
        "organization_id": organization_id,
        "starts_after": starts_after,
        "starts_before": starts_before,
    }
    return await _sheet_response(request, session, "engagements", format, filters)


@router.get("/v1/exports/indicators.{format}", responses=_SHEET_RESPONSES)
async def export_indicators(
    request: Request,
    format: SheetFormat,
    session: SessionDep,
    principal: Reader,
    initiative_id: uuid.UUID | None = Query(default=None, description="Only this initiative's."),
    agreement_id: uuid.UUID | None = Query(default=None, description="Only this agreement's."),
    objective_ref: Annotated[
        str | None, Query(max_length=20, description="Only those serving this objective.")
    ] = None,
) -> StreamingResponse:
    """Indicators as a spreadsheet (baseline and target as `value: on`, with the latest
    measurement and the achievement).

    Every row the key may see (all pages, not one), streamed, with the list
    route's filters; `format` is `csv` (UTF-8, header row) or `xlsx`. Dates
    are ISO 8601, lists are joined with `; `, and text a spreadsheet would
    run as a formula (leading `=`, `+`, `-`, `@`) is prefixed with `'`.
    """
    filters = {
        "organization_scope": principal.organization_id,
        "initiative_id": initiative_id,
        "agreement_id": agreement_id,
        "objective_ref": objective_ref,
    }
    return await _sheet_response(request, session, "indicators", format, filters)


@router.get("/v1/exports/reports.{format}", responses=_SHEET_RESPONSES)
async def export_reports(
    request: Request,
    format: SheetFormat,
    session: SessionDep,
    principal: Reader,
    agreement_id: uuid.UUID | None = Query(default=None, description="Only this agreement's."),
    status: ReportStatus | None = None,
    due_before: dt.date | None = Query(
        default=None, description="Only reports due strictly before this date."
    ),
    overdue: bool | None = Query(
        default=None, description="`true`: only open or returned reports past `due_on`."
    ),
) -> StreamingResponse:
    """Reports as a spreadsheet.

    Every row the key may see (all pages, not one), streamed, with the list
    route's filters; `format` is `csv` (UTF-8, header row) or `xlsx`. Dates
    are ISO 8601, lists are joined with `; `, and text a spreadsheet would
    run as a formula (leading `=`, `+`, `-`, `@`) is prefixed with `'`.
    """
    filters = {
        "organization_scope": principal.organization_id,
        "agreement_id": agreement_id,
        "status": status,
        "due_before": due_before,
        "overdue": overdue,
        "today": today(),
    }
    return await _sheet_response(request, session, "reports", format, filters)
