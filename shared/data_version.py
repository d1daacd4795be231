"""The data version: a number that moves with every committed write.

Every table but the rate limiter's counters has a trigger (migration 0016)
that bumps a counter of ``data_versions`` when a transaction that wrote to it
commits, in that same transaction. The data version is the sum of the
counters. So:

* two reads that see the same version see the same committed data, whatever
  wrote it (the ORM, Core, a hand-written statement, another process);
* a reader sees a new version exactly when it can see the write behind it: a
  writer that reads after its commit sees a version it has not seen before.

Readers here keep a connection of their own, so a version read never waits
on the ORM's pool.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any, Protocol

import asyncpg
from sqlalchemy.engine import make_url

# Not a model: only the triggers write it, and nothing may empty it (a
# version counted again from zero could meet an answer kept at that number).
DATA_VERSIONS_TABLE = "data_versions"
VERSION_SQL = f"SELECT coalesce(sum(n), 0) FROM {DATA_VERSIONS_TABLE}"


class VersionReader(Protocol):
    async def read(self) -> int: ...

    async def aclose(self) -> None: ...


class PostgresVersionReader:
    """Reads the version over one connection of its own, one statement at a time.

    Requests that arrive while a read is on the wire wait for the next one and
    share it: a caller never takes the answer of a read sent before it asked,
    which could predate a write it has seen committed. So a process sends at
    most one version read per round trip, however many requests it serves.
    """

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._connection: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()  # one statement on the connection at a time
        self._next: asyncio.Future[int] | None = None  # the read not sent yet
        self._tasks: set[asyncio.Task[None]] = set()
        self.reads = 0  # statements sent, for tests and the bench

    async def read(self) -> int:
        waiting = self._next
        if waiting is None:
            loop = asyncio.get_running_loop()
            waiting = self._next = loop.create_future()
            task = loop.create_task(self._fetch(waiting))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(waiting)

    async def _fetch(self, future: asyncio.Future[int]) -> None:
        try:
            async with self._lock:
                # From here on, callers wait for the next read.
                if self._next is future:
                    self._next = None
                if self._connection is None or self._connection.is_closed():
                    self._connection = await asyncpg.connect(self._dsn)
                self.reads += 1
                try:
                    value = int(await self._connection.fetchval(VERSION_SQL))
                except BaseException:
                    connection, self._connection = self._connection, None
                    connection.terminate()
                    raise
        except BaseException as exc:
            if self._next is future:
                self._next = None
            if not future.done():
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        if not future.done():
            future.set_result(value)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


class SqliteVersionReader:
    """Reads the version from the database file (a local call, no thread)."""

    def __init__(self, path: str) -> None:
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)

    async def read(self) -> int:
        return int(self._connection.execute(VERSION_SQL).fetchone()[0])

    async def aclose(self) -> None:
        self._connection.close()


def version_reader(database_url: str, **options: Any) -> VersionReader | None:
    """The reader for ``database_url``, or None where no other process could share it."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresVersionReader(dsn, **options)
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        return SqliteVersionReader(database)
    return None
