"""Error pages of the dashboard: HTML under /app, problem+json everywhere else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import DomainError

from .auth import CsrfRefused, SignInRequired
from .render import render

Handler = Callable[[Request, Any], Awaitable[Response]]

TITLES = {
    400: "Something in the request is wrong",
    401: "Sign in first",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed here",
    409: "Refused",
    412: "Changed meanwhile",
    413: "Too large",
    422: "Something in the request is wrong",
    429: "Too many requests",
}


def _is_dashboard(request: Request) -> bool:
    return request.url.path == "/app" or request.url.path.startswith("/app/")


def error_page(request: Request, status_code: int, message: str) -> Response:
    return render(
        request,
        "error.html",
        {"title": TITLES.get(status_code, "Something went wrong"), "message": message},
        status_code=status_code,
    )


def _for_dashboard(previous: Handler, page: Callable[[Request, Any], Response]) -> Handler:
    async def handle(request: Request, exc: Any) -> Response:
        if _is_dashboard(request):
            return page(request, exc)
        return await previous(request, exc)

    return handle


def _domain_page(request: Request, exc: DomainError) -> Response:
    if exc.status == 404:
        # Same words whether it does not exist or the key may not see it (as /v1).
        return error_page(request, 404, "There is nothing here, or your key may not see it.")
    return error_page(request, exc.status, exc.detail)


def _validation_page(request: Request, exc: RequestValidationError) -> Response:
    if any(error.get("loc", ("",))[0] == "path" for error in exc.errors()):
        return error_page(request, 404, "There is nothing here, or your key may not see it.")
    return error_page(request, 422, "Some of what was sent could not be read.")


def _http_page(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code == 404:
        return error_page(request, 404, "There is no such page.")
    return error_page(request, exc.status_code, str(exc.detail))


def install_error_pages(app: FastAPI) -> None:
    handlers = app.exception_handlers
    app.add_exception_handler(DomainError, _for_dashboard(handlers[DomainError], _domain_page))
    app.add_exception_handler(
        RequestValidationError,
        _for_dashboard(handlers[RequestValidationError], _validation_page),
    )
    app.add_exception_handler(
        StarletteHTTPException, _for_dashboard(handlers[StarletteHTTPException], _http_page)
    )

    async def sign_in(request: Request, _exc: SignInRequired) -> Response:
        return RedirectResponse("/app/login", status_code=303)

    async def csrf_refused(request: Request, _exc: CsrfRefused) -> Response:
        message = (
            "This form was not sent from a page of this session (its security token is "
            "missing or stale). Go back, reload the page and try again."
        )
        return error_page(request, 403, message)

    app.add_exception_handler(SignInRequired, sign_in)
    app.add_exception_handler(CsrfRefused, csrf_refused)
