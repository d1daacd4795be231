"""The rate limit at the edge: an ASGI middleware before routing, and its OpenAPI."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.auth import bearer_token
from services.api.problems import send_problem
from services.api.ratelimit.limiter import RateLimiter
from shared.security import hash_api_key


class RateLimitMiddleware:
    """Counts every request that presents a bearer key; 429 over the limit.

    The limiter is ``app.state.rate_limiter`` (made by the lifespan); without
    one, requests pass uncounted.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        application = scope.get("app")
        limiter: RateLimiter | None = getattr(
            getattr(application, "state", None), "rate_limiter", None
        )
        if token is None or limiter is None:
            await self.app(scope, receive, send)
            return
        decision = await limiter.check(hash_api_key(token))
        if decision is None:
            await self.app(scope, receive, send)
            return
        if not decision.allowed:
            await send_problem(
                scope,
                receive,
                send,
                429,
                f"This api key is limited to {decision.limit} requests per minute; "
                f"retry in {decision.reset_seconds} s.",
                headers=decision.header_map(),
            )
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *decision.headers()]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def document_rate_limits(openapi: dict[str, Any]) -> dict[str, Any]:
    """Declare the 429 answer, with its headers, on every `/v1` operation."""
    headers = {
        "Retry-After": {
            "description": "Seconds until the window resets.",
            "schema": {"type": "integer"},
        },
        "RateLimit": {
            "description": 'Remaining quota and reset, e.g. `"default";r=0;t=42`.',
            "schema": {"type": "string"},
        },
        "RateLimit-Policy": {
            "description": 'The quota policy, e.g. `"default";q=1200;w=60`.',
            "schema": {"type": "string"},
        },
    }
    for path, path_item in openapi.get("paths", {}).items():
        if not path.startswith("/v1"):
            continue
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            operation["responses"].setdefault(
                "429",
                {
                    "description": "Too many requests for this api key",
                    "headers": headers,
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                },
            )
    return openapi
