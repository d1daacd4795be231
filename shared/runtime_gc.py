"""The garbage collector of a long-running process (an API or a worker).

A process holds a large, stable heap once it has started (the app, its
routes and models, the ORM's mappers, compiled queries). Python's full
collections walk all of it: on the bench they stopped an API process for
150 to 185 ms, the tail of every latency figure. After start-up the heap is
moved out of the collector's reach (``gc.freeze``), so a full collection
only walks what was made since, and the youngest generation is collected
less often (a request makes thousands of short-lived objects, freed by
reference counting anyway; cycles among them still get collected).

What a process builds on its first requests (compiled queries, templates,
the key cache) is frozen too, by settling again a little later
(:func:`settle_later`).
"""

from __future__ import annotations

import asyncio
import gc

# (youngest, middle, oldest): Python's defaults are (700, 10, 10).
THRESHOLDS = (10_000, 20, 20)


def settle_heap() -> None:
    """Collect once, freeze what survives, and collect the young less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


# Seconds after start-up: by then the first requests have built what stays.
SETTLE_AGAIN_AFTER = (10.0, 30.0)


def settle_later(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    """Settle the heap again at each of :data:`SETTLE_AGAIN_AFTER`; cancel the handles to stop."""
    return [loop.call_later(delay, settle_heap) for delay in SETTLE_AGAIN_AFTER]
