"""The consumer's dispatch table: event type prefix -> handlers.

The table starts empty: :func:`services.worker.handlers.register_handlers`
fills it at the worker's start-up (see :mod:`services.worker`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import OutboxEvent

HandlerFunction = Callable[[AsyncSession, OutboxEvent], Awaitable[None]]
BatchHandlerFunction = Callable[[AsyncSession, list[OutboxEvent]], Awaitable[None]]
EventPredicate = Callable[[OutboxEvent], bool]


@dataclass(frozen=True)
class Handler:
    """``run(session, event)`` for events whose type starts with a prefix.

    ``name`` is the consumer name of its ``processed_events`` rows: keep it
    stable, or redelivered events would run the handler again. ``when``
    narrows it further (e.g. on the aggregate): an event it refuses costs the
    handler no transaction and no ``processed_events`` row.
    """

    name: str
    prefixes: tuple[str, ...]
    run: HandlerFunction
    when: EventPredicate | None = None
    # Set for handlers that do a batch of events at once (see batch_handler).
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


def batch_handler(
    function: BatchHandlerFunction,
    *prefixes: str,
    name: str,
    when: EventPredicate | None = None,
) -> Handler:
    """A handler for ``function(session, events)``, which takes a list.

    The consumer passes the events of a batch in one call (one event when it
    processes them singly), so the handler can read and write for all of
    them with a few statements.
    """

    async def run_one(session: AsyncSession, event: OutboxEvent) -> None:
        await function(session, [event])

    return Handler(
        name=name, prefixes=prefixes or ("",), run=run_one, when=when, run_batch=function
    )


class Dispatcher:
    """Handlers by name, in registration order."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def add(self, handler: Handler) -> Handler:
        """Register ``handler`` (replacing one of the same name)."""
        self._handlers[handler.name] = handler
        return handler

    def remove(self, name: str) -> None:
        self._handlers.pop(name, None)

    def on_event(
        self, *prefixes: str, name: str, when: EventPredicate | None = None
    ) -> Callable[[HandlerFunction], HandlerFunction]:
        """Decorator registering ``handler(session, event)`` when applied."""

        def register(function: HandlerFunction) -> HandlerFunction:
            self.add(Handler(name=name, prefixes=prefixes or ("",), run=function, when=when))
            return function

        return register

    def handlers_for(self, event_type: str) -> list[Handler]:
        """The registered handlers wanting this event type, in registration order."""
        return [handler for handler in self._handlers.values() if handler.wants(event_type)]

    def registered(self) -> list[Handler]:
        """Every registered handler, in registration order."""
        return list(self._handlers.values())

    def applying_to(self, event: OutboxEvent) -> list[Handler]:
        """The registered handlers with work to do for ``event``, in registration order."""
        return [handler for handler in self._handlers.values() if handler.applies_to(event)]


# The table of this process, read by the consumer.
dispatcher = Dispatcher()
on_event = dispatcher.on_event


def handlers_for(event_type: str) -> list[Handler]:
    return dispatcher.handlers_for(event_type)


def registered_handlers() -> list[Handler]:
    return dispatcher.registered()


def handlers_applying_to(event: OutboxEvent) -> list[Handler]:
    return dispatcher.applying_to(event)
