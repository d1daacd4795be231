"""Jinja2 rendering of the dashboard pages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

HEALTH_WORDS = {
    "off_track": "Off track",
    "at_risk": "At risk",
    "on_track": "On track",
    "not_started": "Not started",
    "completed": "Completed",
    "pending": "Not computed yet",
}


WORDS = {"mou": "MoU", "moa": "MoA", "non_binding": "non-binding"}


def _label(value: object) -> str:
    if value in WORDS:
        return WORDS[str(value)]
    text = str(value or "").replace("_", " ")
    return text[:1].upper() + text[1:]


def _day(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return value.strftime("%-d %b %Y, %H:%M UTC")
    return value.strftime("%-d %b %Y")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{round(value * 100)}%"


def _size(value: int) -> str:
    """A byte count as people read it: 25 MB, 512 KB, 300 bytes."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if value >= factor:
            return f"{value / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{value} bytes"


templates.env.filters.update(label=_label, day=_day, percent=_percent, size=_size)
templates.env.globals.update(health_words=HEALTH_WORDS)


# The pages load nothing from another host and run no script; the browser enforces it.
# Inline style attributes carry the widths of progress bars.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """A page; ``viewer`` (the signed-in key) comes from the request state when known."""
    values = {"viewer": getattr(request.state, "viewer", None), **(context or {})}
    response = templates.TemplateResponse(request, name, values, status_code=status_code)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def render_agreement(
    request: Request,
    page: Any,
    *,
    notice: str | None = None,
    forms: dict[str, Any] | None = None,
    errors: list[Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The Agreement page; ``forms`` holds what a refused form had typed and its messages."""
    context = {
        "page": page,
        "notice": notice,
        "forms": forms or {},
        "errors": errors or [],
        "upload_limit": request.app.state.settings.max_document_bytes,
    }
    return render(request, "agreement.html", context, status_code=status_code)
