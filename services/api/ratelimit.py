"""Rate limits per api key, shared by every API process.

A fixed one-minute window per key: each request adds one to the counter of
(key, current minute) and learns the new count in the same round trip. The
counter lives in Redis when one is configured (``ACCORDS_REDIS_URL``, or a
``redis://`` broker), otherwise in the database (``rate_limit_counters``,
UNLOGGED on PostgreSQL), so several processes share one budget either way.

The bucket is the SHA-256 of the presented key, so counting needs no key
lookup and runs before the request touches its own transaction (on SQLite,
which serialises writers, that order matters). Unknown keys are counted too,
which slows down guessing.

Answers carry ``RateLimit-Policy`` and ``RateLimit`` (IETF httpapi
ratelimit-headers draft, structured-field syntax); a request over the limit
gets a 429 problem with ``Retry-After``. If the counter store fails, requests
are let through and the failure is logged: the limiter protects the service,
it must not take it down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db import create_engine
from shared.models import RateLimitCounter
from shared.security import hash_api_key
from shared.settings import Settings

log = structlog.get_logger("accords.ratelimit")

WINDOW_SECONDS = 60
POLICY_NAME = "default"


@dataclass(frozen=True)
class Decision:
    """The outcome of counting one request."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        policy = f'"{POLICY_NAME}";q={self.limit};w={WINDOW_SECONDS}'
        state = f'"{POLICY_NAME}";r={self.remaining};t={self.reset_seconds}'
        headers = [(b"ratelimit-policy", policy.encode()), (b"ratelimit", state.encode())]
        if not self.allowed:
            headers.append((b"retry-after", str(self.reset_seconds).encode()))
        return headers


class CounterStore(Protocol):
    async def hit(self, bucket: str, window: int) -> int:
        """Add one to the counter of ``(bucket, window)`` and return the new count."""

    async def aclose(self) -> None: ...


class DatabaseCounterStore:
    """Counters in ``rate_limit_counters``: one upsert per request.

    Its own small engine, without pre-ping, keeps the hot path at one round
    trip; on PostgreSQL the upsert runs in autocommit, so the counter row is
    locked only for the statement itself.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: AsyncEngine | None = None
        self._pruned_window: int | None = None

    def _engine_for_use(self) -> AsyncEngine:
        if self._engine is None:
            overrides: dict[str, Any] = {"pool_pre_ping": False}
            if not self._settings.is_sqlite:
                overrides.update(pool_size=5, max_overflow=5, pool_recycle=1800)
            self._engine = create_engine(self._settings, **overrides)
        return self._engine

    async def hit(self, bucket: str, window: int, amount: int = 1) -> int:
        engine = self._engine_for_use()
        dialect = engine.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(RateLimitCounter)
            .values(bucket=bucket, window=window, hits=amount)
            .on_conflict_do_update(
                index_elements=[RateLimitCounter.bucket, RateLimitCounter.window],
                set_={"hits": RateLimitCounter.hits + amount},
            )
            .returning(RateLimitCounter.hits)
        )
        prune = self._pruned_window != window
        if dialect == "postgresql":
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                hits = (await connection.execute(statement)).scalar_one()
                if prune:
                    await connection.execute(_prune_statement(window))
        else:
            async with engine.begin() as connection:
                hits = (await connection.execute(statement)).scalar_one()
                if prune:
                    await connection.execute(_prune_statement(window))
        self._pruned_window = window
        return int(hits)

    async def aclose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


def _prune_statement(window: int) -> Any:
    # Each process drops finished windows once per minute; cheap, and keeps the table tiny.
    return delete(RateLimitCounter).where(RateLimitCounter.window < window - 1)


class NearLimitExactStore:
    """Counts locally while a key is far from its limit, exactly near it.

    A database round trip per request costs the API a large share of its
    throughput, though almost every request is nowhere near its limit. So
    this process adds its requests up in memory and writes the sums to the
    shared counter every ``flush_seconds``, in the background; once the
    estimate (the shared count last read plus this process's unwritten hits)
    comes within ``margin`` of the limit, every request goes to the shared
    counter again and the answer is exact. Other processes' unwritten hits
    (at most ``flush_seconds`` of their traffic) are the only slack.
    """

    def __init__(
        self,
        inner: DatabaseCounterStore,
        *,
        limit: int,
        flush_seconds: float = 0.25,
        margin: int | None = None,
    ) -> None:
        self.inner = inner
        self.limit = limit
        self.flush_seconds = flush_seconds
        self.margin = margin if margin is not None else max(20, limit // 10)
        self._shared: dict[tuple[str, int], int] = {}
        self._pending: dict[tuple[str, int], int] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def hit(self, bucket: str, window: int) -> int:
        key = (bucket, window)
        pending = self._pending.get(key, 0) + 1
        estimate = self._shared.get(key, 0) + pending
        if estimate < self.limit - self.margin:
            self._pending[key] = pending
            self._ensure_flusher()
            return estimate
        # Near the limit: write this process's hits and read the exact count.
        self._pending.pop(key, None)
        count = await self.inner.hit(bucket, window, pending)
        self._shared[key] = count
        return count

    def _ensure_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_forever())

    async def _flush_forever(self) -> None:
        # Stopped by an event, never cancelled: a cancellation in the middle of
        # a write could leave its connection checked out with a transaction open.
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.flush_seconds)
            try:
                await self.flush()
            except Exception as exc:
                log.warning("rate_limit_flush_failed", error=f"{type(exc).__name__}: {exc}")
            if self._stopping.is_set():
                return

    async def flush(self) -> None:
        """Write the hits counted in memory to the shared counters."""
        pending, self._pending = self._pending, {}
        newest = max((window for _, window in pending), default=None)
        for (bucket, window), amount in pending.items():
            self._shared[(bucket, window)] = await self.inner.hit(bucket, window, amount)
        if newest is not None:
            # Finished windows are of no use any more.
            self._shared = {
                key: count for key, count in self._shared.items() if key[1] >= newest - 1
            }

    async def aclose(self) -> None:
        self._stopping.set()
        if self._flusher is not None:
            await self._flusher  # its last round writes what is left
        else:
            with contextlib.suppress(Exception):
                await self.flush()
        await self.inner.aclose()


class RedisCounterStore:
    """Counters in Redis: INCR and EXPIRE pipelined into one round trip."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    async def hit(self, bucket: str, window: int) -> int:
        name = f"accords:ratelimit:{bucket}:{window}"
        async with self._redis.pipeline(transaction=False) as pipeline:
            pipeline.incr(name)
            pipeline.expire(name, WINDOW_SECONDS * 2)
            hits, _ = await pipeline.execute()
        return int(hits)

    async def aclose(self) -> None:
        await self._redis.aclose()


class RateLimiter:
    """Counts requests per key in fixed windows against ``limit`` per minute."""

    def __init__(
        self, store: CounterStore, *, limit: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.limit = limit
        self.clock = clock

    async def check(self, bucket: str) -> Decision | None:
        """Count one request; None when the store failed (the request goes through)."""
        now = self.clock()
        window = int(now // WINDOW_SECONDS)
        reset = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        try:
            hits = await self.store.hit(bucket, window)
        except Exception as exc:
            log.warning("rate_limit_store_failed", error=f"{type(exc).__name__}: {exc}")
            return None
        return Decision(
            allowed=hits <= self.limit,
            limit=self.limit,
            remaining=max(0, self.limit - hits),
            reset_seconds=reset,
        )

    async def aclose(self) -> None:
        await self.store.aclose()


def create_rate_limiter(settings: Settings) -> RateLimiter:
    """Redis when one is configured, else the database."""
    redis_url = settings.rate_limit_redis_url
    limit = settings.rate_limit_per_minute
    store: CounterStore
    if redis_url:
        store = RedisCounterStore(redis_url)
    elif settings.is_sqlite:
        # The embedded default: one process and a single-writer database, where
        # a background writer would only contend with the requests for the lock.
        store = DatabaseCounterStore(settings)
    else:
        store = NearLimitExactStore(DatabaseCounterStore(settings), limit=limit)
    return RateLimiter(store, limit=limit)


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
            await _send_too_many(send, decision)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *decision.headers()]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def bearer_token(scope: Scope) -> str | None:
    """The key of an 'Authorization: Bearer' header, as the auth dependency reads it."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token:
                return token
            return None
    return None


async def _send_too_many(send: Send, decision: Decision) -> None:
    body = json.dumps(
        {
            "type": "https://accords.dev/problems/rate-limited",
            "title": "Too many requests",
            "status": 429,
            "detail": (
                f"This api key is limited to {decision.limit} requests per minute; "
                f"retry in {decision.reset_seconds} s."
            ),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                *decision.headers(),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


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
