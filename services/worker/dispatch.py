"""The consumer's dispatch table: event type prefix -> handlers.

See :mod:`services.worker` for how to register a handler.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import OutboxEvent

HandlerFunction = Callable[[AsyncSession, OutboxEvent], Awaitable[None]]
BatchHandlerFunction = Callable[[AsyncSession, list[OutboxEvent]], Awaitable[None]]
EventPredicate = Callable[[OutboxEvent], bool]

# Modules whose import registers handlers; a missing one is skipped so that
# the pipeline runs while a handler module is still being written.
HANDLER_MODULES: tuple[str, ...] = (
    "services.worker.rollups",
    "services.worker.webhooks",
    "services.worker.notifications",
)


@dataclass(frozen=True)
class Handler:
    name: str
    prefixes: tuple[str, ...]
    run: HandlerFunction
    when: EventPredicate | None = None
    # Set for handlers that do a batch of events at once (see on_events).
    run_batch: BatchHandlerFunction | None = None

    async def run_all(self, session: AsyncSession, events: list[OutboxEvent]) -> None:
        """Run the handler for ``events`` in this session, together if it can."""
        if self.run_batch is not None:
            await self.run_batch(session, events)
            return
        for event in events:
            await self.run(session, event)

    def wants(self, event_type: str) -> bool:
        return any(event_type.startswith(prefix) for prefix in self.prefixes)

    def applies_to(self, event: OutboxEvent) -> bool:
        """Whether the handler has anything to do for this very event."""
        return self.wants(event.type) and (self.when is None or self.when(event))


_handlers: dict[str, Handler] = {}


def on_event(
    *prefixes: str, name: str, when: EventPredicate | None = None
) -> Callable[[HandlerFunction], HandlerFunction]:
    """Register ``handler(session, event)`` for events whose type starts with a prefix.

    ``name`` is the consumer name of its ``processed_events`` rows: keep it
    stable, or redelivered events would run the handler again. ``when``
    narrows it further (e.g. on the aggregate): an event it refuses costs the
    handler no transaction and no ``processed_events`` row.
    """

    def register(function: HandlerFunction) -> HandlerFunction:
        _handlers[name] = Handler(name=name, prefixes=prefixes or ("",), run=function, when=when)
        return function

    return register


def on_events(
    *prefixes: str, name: str, when: EventPredicate | None = None
) -> Callable[[BatchHandlerFunction], BatchHandlerFunction]:
    """Like :func:`on_event` for ``handler(session, events)``, which takes a list.

    The consumer passes the events of a batch in one call (one event when it
    processes them singly), so the handler can read and write for all of
    them with a few statements.
    """

    def register(function: BatchHandlerFunction) -> BatchHandlerFunction:
        async def run_one(session: AsyncSession, event: OutboxEvent) -> None:
            await function(session, [event])

        _handlers[name] = Handler(
            name=name, prefixes=prefixes or ("",), run=run_one, when=when, run_batch=function
        )
        return function

    return register


def handlers_for(event_type: str) -> list[Handler]:
    """The registered handlers wanting this event type, in registration order."""
    return [handler for handler in _handlers.values() if handler.wants(event_type)]


def registered_handlers() -> list[Handler]:
    """Every registered handler, in registration order."""
    return list(_handlers.values())


def handlers_applying_to(event: OutboxEvent) -> list[Handler]:
    """The registered handlers with work to do for ``event``, in registration order."""
    return [handler for handler in _handlers.values() if handler.applies_to(event)]


def load_handlers() -> list[str]:
    """Import every handler module; returns the names of the handlers registered."""
    for module in HANDLER_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return list(_handlers)
