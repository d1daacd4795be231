"""Dashboard sign-in: an api key for a session cookie; CSRF on every form.

The cookie holds a random session token signed with itsdangerous (``HttpOnly``,
``SameSite=Lax``, ``Secure`` when ``ACCORDS_PUBLIC_URL`` is https); the
session itself lives in ``dashboard_sessions`` (shared.dashboard.sessions),
so signing out or deleting the key ends it at once. Every form carries the
session's CSRF token; the sign-in form, before any session, carries one bound
to a short-lived cookie (double submit). Sign-in attempts are counted per
client address in the rate limiter's store. The key travels only in the POST
body: never in a URL, a log line or a page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, Signer

from services.api.auth import Principal
from services.api.deps import SessionDep
from services.api.ratelimit.limiter import RateLimiter
from shared.dashboard import sessions
from shared.dashboard.forms import FieldError
from shared.errors import Forbidden
from shared.security import grants
from shared.settings import Settings

from .render import render

SESSION_COOKIE = "accords_session"
LOGIN_CSRF_COOKIE = "accords_login_csrf"
# Outside production without ACCORDS_SECRET_KEY: public on purpose (see _signer).
_DEVELOPMENT_KEY = "accords-dashboard-development-key"


class SignInRequired(Exception):
    """No live session: the page sends the browser to the sign-in form."""


class CsrfRefused(Exception):
    """A form came without the CSRF token of its session."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in key, as the pages and actions see it."""

    signed_in: sessions.SignedIn
    principal: Principal

    @property
    def csrf_token(self) -> str:
        return self.signed_in.csrf_token

    @property
    def can_write(self) -> bool:
        return grants(self.principal.scopes, "write")

    @property
    def organization_id(self) -> uuid.UUID | None:
        return self.principal.organization_id


def _signer(settings: Settings) -> Signer:
    # The token is 256 random bits looked up by hash; the signature only keeps
    # forged or mangled cookies from reaching the database.
    return Signer(settings.secret_key or _DEVELOPMENT_KEY, salt="accords.dashboard.session")


def _secure(settings: Settings) -> bool:
    return settings.public_url.lower().startswith("https://")


def _set_cookie(response: Response, settings: Settings, name: str, value: str, path: str) -> None:
    response.set_cookie(
        name,
        value,
        path=path,
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
    )


def _token_from(request: Request) -> str | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        return _signer(request.app.state.settings).unsign(raw).decode()
    except BadSignature:
        return None


async def current_viewer(request: Request, session: SessionDep) -> Viewer:
    """The signed-in key of this browser, or SignInRequired."""
    token = _token_from(request)
    signed_in = None if token is None else await sessions.resume_session(session, token=token)
    if signed_in is None or not grants(signed_in.scopes, "read"):
        raise SignInRequired
    viewer = Viewer(
        signed_in=signed_in,
        principal=Principal(
            api_key_id=signed_in.api_key_id,
            scopes=signed_in.scopes,
            organization_id=signed_in.organization_id,
            request_id=getattr(request.state, "request_id", None),
        ),
    )
    request.state.viewer = viewer
    return viewer


CurrentViewer = Annotated[Viewer, Depends(current_viewer)]


def check_csrf(viewer: Viewer, submitted: str) -> None:
    """CsrfRefused (403) unless ``submitted`` is the CSRF token of the viewer's session."""
    if not hmac.compare_digest(submitted.encode(), viewer.csrf_token.encode()):
        raise CsrfRefused


async def checked_form(viewer: CurrentViewer, csrf_token: Annotated[str, Form()] = "") -> Viewer:
    """The viewer of a form POST whose CSRF token matches its session (403 otherwise)."""
    check_csrf(viewer, csrf_token)
    return viewer


FormViewer = Annotated[Viewer, Depends(checked_form)]

router = APIRouter(prefix="/app", include_in_schema=False)


def _login_page(
    request: Request, *, errors: list[FieldError] | None = None, status_code: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    settings = request.app.state.settings
    response = render(
        request,
        "login.html",
        {
            "csrf_token": token,
            "errors": errors or [],
            "signed_out": request.query_params.get("signed_out") == "1",
        },
        status_code=status_code,
    )
    signed = _signer(settings).sign(token).decode()
    _set_cookie(response, settings, LOGIN_CSRF_COOKIE, signed, "/app/login")
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    request: Request, session: SessionDep, signed_out: str | None = None
) -> Response:
    """The sign-in form (an api key)."""
    token = _token_from(request)
    signed_in = token and await sessions.resume_session(session, token=token)
    if signed_in and grants(signed_in.scopes, "read"):
        return RedirectResponse("/app/", status_code=303)
    return _login_page(request)


def _login_csrf_ok(request: Request, submitted: str) -> bool:
    raw = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    try:
        expected = _signer(request.app.state.settings).unsign(raw).decode()
    except BadSignature:
        return False
    return bool(submitted) and hmac.compare_digest(submitted.encode(), expected.encode())


async def _too_many_attempts(request: Request) -> bool:
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        return False
    settings: Settings = request.app.state.settings
    # Exact counts (no local estimate): sign-ins are rare and their limit is small.
    store = getattr(limiter.store, "inner", limiter.store)
    attempts = RateLimiter(store, limit=settings.login_attempts_per_minute)
    address = request.client.host if request.client else "unknown"
    bucket = hashlib.sha256(f"dashboard-login:{address}".encode()).hexdigest()
    decision = await attempts.check(bucket)
    return decision is not None and not decision.allowed


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    session: SessionDep,
    api_key: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Exchange an api key for a session cookie."""
    if not _login_csrf_ok(request, csrf_token):
        raise CsrfRefused
    if await _too_many_attempts(request):
        message = "Too many sign-in attempts from this address. Wait a minute and try again."
        return _login_page(request, errors=[FieldError("api_key", message)], status_code=429)
    if not api_key.strip():
        return _login_page(
            request, errors=[FieldError("api_key", "Enter your api key.")], status_code=422
        )
    try:
        token = await sessions.start_session(session, api_key=api_key.strip())
    except Forbidden as exc:
        return _login_page(request, errors=[FieldError("api_key", exc.detail)], status_code=403)
    if token is None:
        message = "That api key is unknown or has been revoked."
        return _login_page(request, errors=[FieldError("api_key", message)], status_code=401)
    settings = request.app.state.settings
    response = RedirectResponse("/app/", status_code=303)
    _set_cookie(response, settings, SESSION_COOKIE, _signer(settings).sign(token).decode(), "/app")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/app/login")
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep, viewer: FormViewer) -> Response:
    """End the session: the cookie stops working at once."""
    token = _token_from(request)
    if token:
        await sessions.end_session(session, token=token)
    response = RedirectResponse("/app/login?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/app")
    return response
