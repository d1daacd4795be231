"""Counting one request against its key's window, and what the answer tells the client."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from services.api.ratelimit.stores import (
    WINDOW_SECONDS,
    CounterStore,
    DatabaseCounterStore,
    NearLimitExactStore,
    RedisCounterStore,
)
from shared.settings import Settings

log = structlog.get_logger("accords.ratelimit")

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

    def header_map(self) -> dict[str, str]:
        """:meth:`headers` as a response's ``headers=`` argument takes them."""
        return {name.decode(): value.decode() for name, value in self.headers()}


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
