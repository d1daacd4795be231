"""Importing the worker registers nothing: its start-up does, explicitly."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import pkgutil, importlib
import services.worker, shared
for package in (services.worker, shared):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
from sqlalchemy import event
from sqlalchemy.orm import Session
from services.worker.dispatch import dispatcher
from shared.rollups import store
print(len(dispatcher.registered()),
      event.contains(Session, "after_commit", store._notes_committed))
{after}
"""


def probe(after: str = "") -> str:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(after=after)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return completed.stdout.split("\n")


def test_importing_every_worker_and_shared_module_registers_no_handler_and_no_listener() -> None:
    assert probe()[0] == "0 False"


def test_register_handlers_registers_the_rollup_fan_out_and_notification_handlers() -> None:
    lines = probe(
        "from services.worker.handlers import register_handlers\n"
        "print(register_handlers(), "
        "event.contains(Session, 'after_commit', store._notes_committed))"
    )
    assert lines[1] == "['rollups', 'webhooks.fan_out', 'notifications.write'] True"


def test_the_handlers_module_imports_on_its_own() -> None:
    """Importing it first (as a handler run by hand does) meets no import cycle:
    handlers -> notifications -> runtime -> handlers once failed half-way."""
    completed = subprocess.run(
        [sys.executable, "-c", "import services.worker.handlers as h; print(h.register_handlers)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("<function register_handlers")
