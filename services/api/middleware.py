"""Pure ASGI middleware: request ids, access logs, metrics, body limit, headers.

Written against ASGI directly rather than BaseHTTPMiddleware, which costs a
task and a stream copy per request.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.problems import send_problem

log = structlog.get_logger("accords.access")

REQUESTS = Counter(
    "accords_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "accords_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,200}$")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
_DOCS_PATHS = ("/docs", "/redoc", "/openapi.json")


class RequestContextMiddleware:
    """Gives every request an id, logs it once, measures it, and hardens headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder: dict[str, int] = {"status": 500}
        path: str = scope["path"]
        is_docs = path.startswith(_DOCS_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS:
                    if name in present or (is_docs and name == b"cache-control"):
                        continue
                    headers.append((name, value))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            status = status_holder["status"]
            counter, latency = _metrics_for(scope["method"], route, status)
            counter.inc()
            latency.observe(elapsed)
            log.info(
                "request",
                method=scope["method"],
                path=path,
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")


_metric_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _metrics_for(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The labelled counter and histogram of one kind of answer, looked up once.

    Labels are route templates, so there are few of them; ``labels()`` itself
    costs a lock and a tuple per call.
    """
    key = (method, route, status)
    children = _metric_children.get(key)
    if children is None:
        children = REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route)
        _metric_children[key] = children
    return children


class BodySizeLimitMiddleware:
    """Answers 413 to a body larger than the limit, before it is read into memory.

    ``allowances`` give a POST path a limit of its own (document uploads, whose
    route streams the body and enforces the exact limit on the file itself).
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, allowances: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.allowances = allowances or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.max_bytes
        if scope["method"] == "POST":
            max_bytes = self.allowances.get(scope["path"].rstrip("/"), max_bytes)
        too_large = f"The request body is larger than {max_bytes} bytes."
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > max_bytes:
                    await send_problem(scope, receive, send, 413, too_large)
                    return
        received = 0

        async def limited_receive() -> Message:
            # A chunked body has no length up front: count it as it streams in.
            # The HTTPException reaches the problem handler like any other.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise HTTPException(413, too_large)
            return message

        await self.app(scope, limited_receive, send)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            # Echo what the client sent only when it is safe to log and reflect.
            return candidate if _REQUEST_ID.match(candidate) else None
    return None


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    if route is not None and hasattr(route, "path"):
        return str(route.path)
    return "unmatched"
