"""The hottest reads, answered without FastAPI's routing and dependency passes.

For a keyed read, FastAPI spends more on resolving the request (routing twice,
a pass per dependency, exit stacks, the session) than the database spends on
the statement. For the GET routes listed in :data:`FAST_READS`, this
middleware answers the plain success itself, with what the route uses: the
same principal and scope rule, the same read, the same schema serializer, the
same ETag; the outer middleware (request id, access log, metrics, rate limit,
security headers) wraps both paths alike.

Anything else falls through to the FastAPI route, which stays the one source
of error answers, documentation and OpenAPI: no query string allowed, a key
not already in this process's api-key cache (services.api.api_keys.cache),
a missing scope, a row not found or not visible, any exception. So a fast
answer is only ever a 200 the route would have given. Tests send the same
requests down both paths and compare status, headers and bytes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from starlette.types import ASGIApp, Receive, Scope, Send

from services.api.agreements.router import get_agreement
from services.api.auth import Principal, bearer_token, principal_for
from services.api.http import etag_for
from shared.agreements.reads import fetch_public_agreement
from shared.agreements.schemas import AgreementPublic
from shared.db import borrowed_connection
from shared.security import grants, hash_api_key

log = structlog.get_logger("accords.api")

_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# The answer of a fast read: the JSON body and the resource version (ETag).
Answer = tuple[bytes, int]


@dataclass(frozen=True)
class FastRead:
    """One GET route's common case, answered from an asyncpg connection."""

    path: re.Pattern[str]  # named groups are the path parameters, canonical form only
    endpoint: Callable[..., Any]  # the FastAPI route's function (metrics label, tests)
    scope: str
    read: Callable[[Any, Principal, dict[str, str]], Awaitable[Answer | None]]


_AGREEMENT_JSON = TypeAdapter(AgreementPublic)


async def _read_agreement(
    connection: Any, principal: Principal, params: dict[str, str]
) -> Answer | None:
    agreement = await fetch_public_agreement(
        connection, uuid.UUID(params["agreement_id"]), principal.organization_id
    )
    if agreement is None:
        return None
    # As FastAPI serializes the route's return value.
    return _AGREEMENT_JSON.dump_json(agreement, by_alias=True), agreement.version


FAST_READS = [
    FastRead(
        path=re.compile(f"/v1/agreements/(?P<agreement_id>{_UUID})"),
        endpoint=get_agreement,
        scope="read",
        read=_read_agreement,
    ),
]


class FastReadMiddleware:
    """Answers :data:`FAST_READS` on PostgreSQL; ``app.state.fast_reads = False`` turns it off."""

    def __init__(self, app: ASGIApp, reads: list[FastRead] | None = None) -> None:
        self.app = app
        self.reads = FAST_READS if reads is None else reads
        self._routes: dict[Callable[..., Any], APIRoute] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            for fast_read in self.reads:
                match = fast_read.path.fullmatch(scope["path"])
                if match is not None:
                    if await self._answer(fast_read, match.groupdict(), scope, send):
                        return
                    break
        await self.app(scope, receive, send)

    async def _answer(
        self, fast_read: FastRead, params: dict[str, str], scope: Scope, send: Send
    ) -> bool:
        application: FastAPI = scope["app"]
        state = application.state
        cache = state.api_key_cache
        if cache is None or not getattr(state, "fast_reads", True):
            return False
        token = bearer_token(scope)
        row = cache.peek(hash_api_key(token)) if token is not None else None
        if row is None or not grants(row.scopes, fast_read.scope):
            return False
        principal = principal_for(row, request_id=scope.get("state", {}).get("request_id"))
        try:
            async with borrowed_connection(state.engine) as connection:
                answer = await fast_read.read(connection, principal, params)
        except Exception as exc:
            # The route tries again and answers the error its own way.
            log.warning("fast_read_failed", error=f"{type(exc).__name__}: {exc}")
            return False
        if answer is None:
            return False
        body, version = answer
        scope["route"] = self._route_of(application, fast_read.endpoint)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json"),
                    (b"etag", etag_for(version).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return True

    def _route_of(self, application: FastAPI, endpoint: Callable[..., Any]) -> APIRoute | None:
        route = self._routes.get(endpoint)
        if route is None:
            route = next(
                (found for found in api_routes(application) if found.endpoint is endpoint), None
            )
            if route is not None:
                self._routes[endpoint] = route
        return route


def api_routes(application: FastAPI) -> list[APIRoute]:
    """Every APIRoute of the app, included routers' too."""
    found: list[APIRoute] = []
    pending = list(application.router.routes)
    while pending:
        route = pending.pop(0)
        if isinstance(route, APIRoute):
            found.append(route)
        included = getattr(route, "original_router", None)
        if included is not None:
            pending.extend(included.routes)
    return found
