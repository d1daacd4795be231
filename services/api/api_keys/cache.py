"""Api keys a process has already looked up, on PostgreSQL, forgotten on any change.

Every request authenticates, and looking the key up is a round trip that
costs about as much as the rest of a short read. Keys are never changed, only
deleted, so each API process keeps the keys it has seen and drops all of them
whenever any key is deleted:

- the database notifies ``accords_api_keys`` from a trigger on ``api_keys``
  (migration 0007) in the transaction that deletes, updates or truncates, so
  every change is announced, whoever makes it (API, CLI, cascade, psql), and
  only once it is committed;
- each process listens on that channel on a connection of its own and empties
  its cache on every notification; the API process that deletes a key also
  empties its own cache right away (``forget_all``).

The guarantee: a deleted key fails on the next request to the process that
deleted it, and on other processes as soon as PostgreSQL has delivered the
notification, which on one host takes well under a millisecond after the
commit. A process caches only while its listening connection is up: it stops
when the connection is lost (or stops answering the periodic ping) and starts
again, empty, once it listens again. Each entry also expires after
``ttl_seconds`` whatever happens. Unknown keys are never cached, so a new key
works at once. On SQLite (one process, local reads) there is no cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

log = structlog.get_logger("accords.api")

CHANNEL = "accords_api_keys"

Row = TypeVar("Row")


class ApiKeyCache(Generic[Row]):
    """Key rows by key hash; used only while ``listening`` is true."""

    def __init__(
        self,
        *,
        ttl_seconds: float = 10.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self.listening = False
        self._entries: dict[str, tuple[float, Row]] = {}
        # Bumped by every forget_all: a lookup that was running meanwhile may
        # have read a row that is already deleted, so it must not be stored.
        self._generation = 0

    async def lookup(
        self, key_hash: str, load: Callable[[str], Awaitable[Row | None]]
    ) -> Row | None:
        """The cached row, or ``load(key_hash)``'s answer (remembered when found)."""
        if not self.listening:
            return await load(key_hash)
        cached = self.peek(key_hash)
        if cached is not None:
            return cached
        generation = self._generation
        row = await load(key_hash)
        if row is not None and self.listening and generation == self._generation:
            if len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]  # the oldest
            self._entries[key_hash] = (self.clock() + self.ttl_seconds, row)
        return row

    def peek(self, key_hash: str) -> Row | None:
        """The cached row, without looking anything up."""
        if not self.listening:
            return None
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] <= self.clock():
            return None
        return entry[1]

    def forget_all(self) -> None:
        self._entries.clear()
        self._generation += 1

    def start_listening(self) -> None:
        self.forget_all()  # changes made while nobody listened went unannounced
        self.listening = True

    def stop_listening(self) -> None:
        self.listening = False
        self.forget_all()

    def __len__(self) -> int:
        return len(self._entries)


class ApiKeyChangeListener:
    """Listens on :data:`CHANNEL` and empties the cache on each notification.

    Reconnects after ``retry_seconds`` when its connection is lost, and pings
    it every ``ping_seconds`` so that a silently dead connection is noticed.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        cache: ApiKeyCache[Any],
        *,
        ping_seconds: float = 5.0,
        retry_seconds: float = 1.0,
    ) -> None:
        self.engine = engine
        self.cache = cache
        self.ping_seconds = ping_seconds
        self.retry_seconds = retry_seconds
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # For tests and probes: set while the cache is in use, and on each notification.
        self.listening = asyncio.Event()
        self.notified = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._listen()
            except Exception as exc:
                log.warning("api_key_listener_failed", error=f"{type(exc).__name__}: {exc}")
            finally:
                self._stop_caching()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.retry_seconds)

    async def _listen(self) -> None:
        self._wake.clear()
        pooled = await self.engine.raw_connection()
        connection = pooled.driver_connection
        pooled.detach()  # held for the process's life: not one of the pool's
        lost = False

        def on_lost(_connection: Any) -> None:
            # Called by asyncpg as soon as the connection is gone.
            nonlocal lost
            lost = True
            self._stop_caching()
            self._wake.set()

        try:
            connection.add_termination_listener(on_lost)
            await connection.add_listener(CHANNEL, self._on_notification)
            self.cache.start_listening()
            self.listening.set()
            while not self._stopping.is_set() and not lost:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.ping_seconds)
                if not self._stopping.is_set() and not lost:
                    await connection.fetchval("SELECT 1", timeout=self.ping_seconds)
        finally:
            self._stop_caching()
            with contextlib.suppress(Exception):
                await greenlet_spawn(pooled.close)

    def _stop_caching(self) -> None:
        self.cache.stop_listening()
        self.listening.clear()

    def _on_notification(self, *_args: Any) -> None:
        self.cache.forget_all()
        self.notified.set()
