"""RFC 9457 problem details: every error the API answers has this one shape."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from shared.errors import DomainError

log = structlog.get_logger("accords.api")

PROBLEM_TYPE_BASE = "https://accords.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ValidationIssue] | None = None
    allowed: list[str] | None = None


_STATUS_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    412: ("precondition-failed", "Precondition failed"),
    413: ("content-too-large", "Content too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    416: ("range-not-satisfiable", "Range not satisfiable"),
    422: ("validation-error", "Validation error"),
    428: ("precondition-required", "Precondition required"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal-error", "Internal server error"),
    503: ("unavailable", "Service unavailable"),
}


def problem_response(
    status: int,
    detail: str,
    *,
    type_slug: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    default_slug, default_title = _STATUS_TITLES.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (type_slug or default_slug),
        "title": title or default_title,
        "status": status,
        "detail": detail,
    }
    body.update({key: value for key, value in extensions.items() if value is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


async def send_problem(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer a problem from raw ASGI middleware, which runs outside the exception handlers.

    The same document as :func:`problem_response`, sent as that response sends it.
    """
    await problem_response(status, detail, headers=headers)(scope, receive, send)


def _loc(raw: tuple[Any, ...] | list[Any]) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in raw]


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = exc.extensions.pop("headers", None)
    return problem_response(
        exc.status,
        exc.detail,
        type_slug=exc.type_slug,
        title=exc.title,
        headers=headers,
        **exc.extensions,
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return problem_response(
                400, "The request body is not valid JSON.", type_slug="malformed-json"
            )
        errors.append({"loc": _loc(error.get("loc", ())), "msg": str(error.get("msg", ""))})
    return problem_response(
        422, "The request does not match the schema; see 'errors'.", errors=errors
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        # Starlette names the methods of the first route that matched the path only.
        from services.api.contract import allowed_methods

        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return problem_response(exc.status_code, detail, headers=headers)


async def _stale_data(_request: Request, _exc: Exception) -> JSONResponse:
    return problem_response(
        412,
        "The resource was changed by another request; fetch it again and retry with its ETag.",
    )


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    # Services check their invariants first; this catches the race between two
    # requests that both passed the check.
    log.warning("integrity_error", error=type(exc).__name__)
    return problem_response(409, "The change conflicts with the current state of the data.")


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_error", exc_info=exc)
    return problem_response(500, "An unexpected error occurred; it has been logged.")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(StaleDataError, _stale_data)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(Exception, _unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry that documents a route's problem answers."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        _slug, title = _STATUS_TITLES.get(status, ("error", "Error"))
        documented[status] = {
            "description": title,
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
        }
    return documented


def document_problems(openapi: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document tell the truth about errors.

    Registers the Problem schema, and replaces FastAPI's default 422 (a JSON
    body of another shape) with the problem+json document the API really sends.
    """
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components["Problem"] = schema
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    problem_content = {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}}
    for path, path_item in openapi.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses or path.startswith("/v1"):
                responses["422"] = {"description": "Validation error", "content": problem_content}
            if "requestBody" in operation:
                for status, title in ((400, "Malformed body"), (413, "Body too large")):
                    responses.setdefault(
                        str(status), {"description": title, "content": problem_content}
                    )
    return openapi
