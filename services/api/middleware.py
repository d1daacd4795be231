"""Pure ASGI middleware: request ids, access logs, metrics, body limit, headers.

Written against ASGI directly rather than BaseHTTPMiddleware, which costs a
task and a stream copy per request.
"""

from __future__ import annotations

import base64
import hashlib
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
]
# JSON answers load nothing and are framed by nobody.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
# Pages (the API reference, the dashboard): everything from this origin only.
# Inline styles are allowed (Swagger UI and ReDoc set them); inline scripts are
# not, except the API reference's own start-up script, allowed by its hash.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HSTS = b"max-age=63072000; includeSubDomains"
_DOCS_PATHS = ("/docs", "/redoc", "/openapi.json")
# The reference pages FastAPI renders, with an inline script of their own.
_REFERENCE_PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def page_policy(html: bytes = b"") -> bytes:
    """The Content-Security-Policy of a page, allowing the inline scripts of ``html``."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return PAGE_POLICY.format(hashes=hashes).encode()


class RequestContextMiddleware:
    """Gives every request an id, logs it once, measures it, and hardens headers.

    Every answer gets ``nosniff``, ``no-referrer``, a Content-Security-Policy
    (pages: same origin only; JSON: nothing at all), HSTS when Accords is
    served over https (``strict_transport``), and ``Cache-Control: no-store``
    (always on an answer to a request with credentials).
    """

    def __init__(self, app: ASGIApp, *, strict_transport: bool = False) -> None:
        self.app = app
        self.strict_transport = strict_transport

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
        credentials = _has_credentials(scope)
        held: list[Message] = []  # a reference page, until its body is complete

        def harden(message: Message, body: bytes = b"") -> None:
            headers = [
                header
                for header in message.get("headers", [])
                if not (credentials and header[0].lower() == b"cache-control")
            ]
            headers.append((b"x-request-id", request_id.encode("latin-1")))
            present = {name.lower(): value for name, value in headers}
            for name, value in SECURITY_HEADERS:
                if name not in present:
                    headers.append((name, value))
            if b"content-security-policy" not in present:
                is_page = present.get(b"content-type", b"").startswith(b"text/html")
                policy = page_policy(body) if is_page else API_POLICY.encode()
                headers.append((b"content-security-policy", policy))
            if self.strict_transport and b"strict-transport-security" not in present:
                headers.append((b"strict-transport-security", HSTS))
            if credentials or (b"cache-control" not in present and not is_docs):
                headers.append((b"cache-control", b"no-store"))
            message["headers"] = headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                if path in _REFERENCE_PAGES and _is_html(message):
                    held.append(message)  # its policy needs the hash of its inline script
                    return
                harden(message)
            elif held:
                held.append(message)
                if message.get("more_body", False):
                    return
                start, *chunks = held
                held.clear()
                body = b"".join(chunk.get("body", b"") for chunk in chunks)
                harden(start, body)
                await send(start)
                message = {"type": "http.response.body", "body": body}
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
        refused = False
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > max_bytes:
                    if not _is_dashboard(scope["path"]):
                        await send_problem(scope, receive, send, 413, too_large)
                        return
                    # A page answers with the dashboard's error page: refused at
                    # the first read, before any of the body is taken in.
                    refused = True
        received = 0

        async def limited_receive() -> Message:
            # A chunked body has no length up front: count it as it streams in.
            # The HTTPException reaches the problem handler (or, under /app,
            # the dashboard's error page) like any other.
            nonlocal received
            if refused:
                raise HTTPException(413, too_large)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise HTTPException(413, too_large)
            return message

        await self.app(scope, limited_receive, send)


def _is_dashboard(path: str) -> bool:
    return path == "/app" or path.startswith("/app/")


def _is_html(message: Message) -> bool:
    for name, value in message.get("headers", []):
        if name.lower() == b"content-type":
            return bool(value.startswith(b"text/html"))
    return False


def _has_credentials(scope: Scope) -> bool:
    """The request carries an api key or a cookie: its answer is for its sender only."""
    return any(name in (b"authorization", b"cookie") for name, _ in scope.get("headers", []))


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
