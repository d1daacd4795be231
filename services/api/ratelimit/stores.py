"""Counter stores: where the per-key, per-window counts live.

Each store answers ``hit(bucket, window)`` with the new count; which one a
process uses is chosen by :func:`services.api.ratelimit.limiter.create_rate_limiter`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

import structlog
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine, insert_for
from shared.models import RateLimitCounter
from shared.settings import Settings

log = structlog.get_logger("accords.ratelimit")

WINDOW_SECONDS = 60


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
        statement = (
            insert_for(engine)(RateLimitCounter)
            .values(bucket=bucket, window=window, hits=amount)
            .on_conflict_do_update(
                index_elements=[RateLimitCounter.bucket, RateLimitCounter.window],
                set_={"hits": RateLimitCounter.hits + amount},
            )
            .returning(RateLimitCounter.hits)
        )
        prune = self._pruned_window != window
        if engine.dialect.name == "postgresql":
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
