"""Registering the worker's event handlers: done at start-up, never at import."""

from __future__ import annotations

from services.worker import fanout, notifications, rollups
from services.worker.dispatch import Dispatcher, dispatcher
from shared.rollups.store import install_recompute_listeners


def register_handlers(table: Dispatcher = dispatcher) -> list[str]:
    """Register the rollup, webhook fan-out and notification handlers on ``table``.

    Also installs the process-wide session listeners the rollup handler
    relies on. Idempotent; returns the names of the handlers registered.
    """
    install_recompute_listeners()
    for handler in (rollups.HANDLER, fanout.FAN_OUT, notifications.HANDLER):
        table.add(handler)
    return [handler.name for handler in table.registered()]
