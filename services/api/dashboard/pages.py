"""The dashboard's pages (SPEC section 13): thin views over shared.dashboard."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from services.api.deps import SessionDep, SettingsDep
from services.api.documents.download import content_disposition
from services.api.http import decode_cursor, encode_cursor
from shared.dashboard.agreement import agreement_page
from shared.dashboard.attention import attention_page
from shared.dashboard.forms import parse_form
from shared.dashboard.organization import organization_page
from shared.dashboard.portfolio import PortfolioFilters, PortfolioPage, portfolio_page
from shared.documents import service as documents
from shared.documents.media_types import content_type_header

from .auth import CurrentViewer
from .render import render, render_agreement

router = APIRouter(prefix="/app", include_in_schema=False)

SAVED_NOTICES = {
    "transition": "The agreement moved along its lifecycle.",
    "milestone": "The milestone is marked done. Progress updates once the worker has run.",
    "engagement": "The engagement is recorded.",
    "report": "The report moved on.",
    "report_draft": "The report's draft is saved.",
    "report_submitted": "The report is submitted for review.",
    "party_act": "The party act is recorded.",
    "document": "The document is uploaded.",
}


def _next_link(page: PortfolioPage, query: dict[str, str]) -> str | None:
    if not page.has_more or not page.rows:
        return None
    return "?" + urlencode({**query, "cursor": encode_cursor(page.rows[-1].agreement.id)})


@router.get("", include_in_schema=False)
async def app_root() -> RedirectResponse:
    return RedirectResponse("/app/", status_code=307)


@router.get("/", response_class=HTMLResponse)
async def portfolio(
    request: Request,
    session: SessionDep,
    viewer: CurrentViewer,
    country: str | None = None,
    status: str | None = None,
    focus_area: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    """Portfolio: counts by health and status, and the agreements table."""
    typed = {"country": country, "status": status, "focus_area": focus_area, "q": q}
    filters, errors = parse_form(PortfolioFilters, typed)
    page = await portfolio_page(
        session,
        organization_scope=viewer.organization_id,
        filters=filters or PortfolioFilters(),
        after=decode_cursor(cursor) if filters else None,
    )
    query = filters.as_query() if filters else {}
    return render(
        request,
        "portfolio.html",
        {
            "page": page,
            "typed": typed,
            "errors": errors,
            "next_link": _next_link(page, query),
            "first_link": "?" + urlencode(query) if cursor else None,
        },
        status_code=422 if errors else 200,
    )


@router.get("/agreements/{agreement_id}", response_class=HTMLResponse)
async def agreement(
    request: Request,
    agreement_id: uuid.UUID,
    session: SessionDep,
    viewer: CurrentViewer,
    saved: str | None = None,
) -> HTMLResponse:
    """One agreement: terms, parties, timeline, objectives, initiatives, milestones, ..."""
    page = await agreement_page(session, agreement_id, organization_scope=viewer.organization_id)
    return render_agreement(request, page, notice=SAVED_NOTICES.get(saved or ""))


@router.get("/attention", response_class=HTMLResponse)
async def attention(
    request: Request, session: SessionDep, viewer: CurrentViewer, settings: SettingsDep
) -> HTMLResponse:
    """Overdue milestones, agreements expiring within 90 days, dormant agreements."""
    page = await attention_page(
        session, organization_scope=viewer.organization_id, dormancy_days=settings.dormancy_days
    )
    return render(request, "attention.html", {"page": page})


@router.get("/organizations/{organization_id}", response_class=HTMLResponse)
async def organization(
    request: Request,
    organization_id: uuid.UUID,
    session: SessionDep,
    viewer: CurrentViewer,
    cursor: str | None = None,
) -> HTMLResponse:
    """An organization and the agreements it is party to."""
    page = await organization_page(
        session,
        organization_id,
        organization_scope=viewer.organization_id,
        after=decode_cursor(cursor),
    )
    next_link = _next_link(page.portfolio, {})
    return render(request, "organization.html", {"page": page, "next_link": next_link})


@router.get("/documents/{document_id}/content")
async def document_content(
    request: Request, document_id: uuid.UUID, session: SessionDep, viewer: CurrentViewer
) -> StreamingResponse:
    """Download a document's bytes (as GET /v1/documents/{id}/content, whole file)."""
    document = await documents.get_document(
        session, document_id, organization_scope=viewer.organization_id
    )
    headers = {
        "Content-Disposition": content_disposition(document.filename),
        "Content-Type": content_type_header(document.media_type),
        "Content-Length": str(document.size),
        "ETag": f'"{document.sha256}"',
    }
    body = documents.iter_content(
        request.app.state.read_sessionmaker, document.id, start=0, end=document.size - 1
    )
    return StreamingResponse(body, headers=headers)
