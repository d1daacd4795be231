"""Stopping the worker's loops between passes, never in the middle of a write.

A loop cancelled inside a transaction may leave it open: on SQLite the
connection keeps the database's write lock until it is garbage-collected, and
every later writer waits on it (``database is locked``). So the runtime sets
an event the loops watch, lets the pass under way finish, and cancels only a
loop that has not returned by then.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection

import structlog

log = structlog.get_logger("accords.worker")

# How long the loops have to finish their passes once asked to stop (a pass
# is a few statements; a mail pass is bounded by the SMTP timeout).
STOP_SECONDS = 15.0


async def pause(stopping: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or until ``stopping`` is set if that comes first."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stopping.wait()


async def stop_loops(
    tasks: Collection[asyncio.Task[None]], stopping: asyncio.Event, *, within: float = STOP_SECONDS
) -> None:
    """Set ``stopping``, wait up to ``within`` seconds for ``tasks`` to return,
    then cancel those that have not (and wait for them)."""
    stopping.set()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=within)
    if pending:
        log.warning("loops_cancelled", loops=len(pending), after_seconds=within)
        for task in pending:
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
