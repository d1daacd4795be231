"""Routes of the exports in the partners' formats (SPEC section 14): IATI XML, CSV, XLSX."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

from fastapi import APIRouter, Depends, Query, Request, Response, params
from fastapi.responses import StreamingResponse

from services.api.agreements import router as agreements
from services.api.deps import Reader, SessionDep, SettingsDep
from services.api.engagements import router as engagements
from services.api.indicators import router as indicators
from services.api.initiatives import router as initiatives
from services.api.milestones import router as milestones
from services.api.problems import problem_responses
from services.api.reports import router as reports
from shared.agreements.schemas import AgreementStatus
from shared.clock import today
from shared.exports.resources import SHEETS
from shared.exports.sheets import csv_stream, first_page, rows_of, xlsx_stream
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


def _filters_of(list_route: Callable[..., Any]) -> Callable[..., Awaitable[dict[str, Any]]]:
    """A dependency taking exactly the query filters that ``list_route`` takes.

    An export filters as its resource's list route does, so the filters are
    declared once, on the list route: this reads them (name, type, default,
    description and bounds) off its signature: its query parameters but paging.
    """
    hints = get_type_hints(list_route, include_extras=True)
    parameters = [
        parameter.replace(annotation=hints[name], kind=inspect.Parameter.KEYWORD_ONLY)
        for name, parameter in inspect.signature(list_route).parameters.items()
        if name not in _PAGING and _is_query(hints[name])
    ]

    async def filters(**values: Any) -> dict[str, Any]:
        return values

    filters.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return filters


_PAGING = {"limit", "cursor"}


def _is_query(annotation: Any) -> bool:
    """Whether FastAPI reads a parameter so annotated from the query string: not the
    request or response objects, nor a dependency (the session, the principal)."""
    if annotation in (Request, Response):
        return False
    if get_origin(annotation) is Annotated:
        return not any(isinstance(extra, params.Depends) for extra in get_args(annotation)[1:])
    return True


_ABOUT_SHEETS = """

Every row the key may see (all pages, not one), streamed, with the list
route's filters; `format` is `csv` (UTF-8, header row) or `xlsx`. Dates
are ISO 8601, lists are joined with `; `, and text a spreadsheet would
run as a formula (leading `=`, `+`, `-`, `@`) is prefixed with `'`."""


@dataclass(frozen=True)
class _Export:
    list_route: Callable[..., Any]
    about: str
    # Filled in at each request, as the list route fills them in.
    extra: Callable[[], dict[str, Any]] = dict


# In the order of the documentation, each with the list route whose filters it takes.
_EXPORTS = {
    "agreements": _Export(
        agreements.list_agreements,
        "Agreements as a spreadsheet (parties as `organization_id: role`).",
    ),
    "initiatives": _Export(initiatives.list_initiatives, "Initiatives as a spreadsheet."),
    "milestones": _Export(milestones.list_milestones, "Milestones as a spreadsheet."),
    "engagements": _Export(engagements.list_engagements, "Engagements as a spreadsheet."),
    "indicators": _Export(
        indicators.list_indicators,
        "Indicators as a spreadsheet (baseline and target as `value: on`, with the latest\n"
        "measurement and the achievement).",
    ),
    "reports": _Export(
        reports.list_reports, "Reports as a spreadsheet.", lambda: {"today": today()}
    ),
}


def _sheet_route(resource: str, export: _Export) -> Callable[..., Awaitable[StreamingResponse]]:
    sheet = SHEETS[resource]

    async def export_sheet(
        request: Request,
        format: SheetFormat,
        session: SessionDep,
        principal: Reader,
        filters: dict[str, Any] = Depends(_filters_of(export.list_route)),
    ) -> StreamingResponse:
        scoped = {"organization_scope": principal.organization_id, **filters, **export.extra()}
        first = await first_page(sheet, session, scoped)
        pages = rows_of(sheet, first, request.app.state.read_sessionmaker, scoped)
        if format == "csv":
            body = csv_stream(sheet.columns, pages)
        else:
            body = xlsx_stream(resource, sheet.columns, pages)
        return StreamingResponse(
            body,
            media_type=_MEDIA_TYPES[format],
            headers={"Content-Disposition": f'attachment; filename="{resource}.{format}"'},
        )

    return export_sheet


for _resource, _export in _EXPORTS.items():
    router.add_api_route(
        f"/v1/exports/{_resource}.{{format}}",
        _sheet_route(_resource, _export),
        methods=["GET"],
        name=f"export_{_resource}",
        description=_export.about + _ABOUT_SHEETS,
        responses=_SHEET_RESPONSES,
    )
