"""`accords serve --workers N`: uvicorn's workers forked from one imported app.

uvicorn's multiprocess supervisor starts each worker as a fresh interpreter
(multiprocessing's "spawn"), which imports the whole application again: about
2 s of CPU per worker, at every start and every restart. Forking from a
supervisor that imported the application once (what gunicorn calls preload)
starts a worker in a fraction of that, and the workers share the imported
modules' memory until they write to it. Each worker still builds its own app
(``create_server_app``), engine and connections after the fork: nothing but
imported code crosses it.

The supervisor is uvicorn's own; only the kind of process it starts changes
(``uvicorn._subprocess.spawn``, the context it takes its processes from).
Where that is not so (another uvicorn), or a thread is already running here
(forking would copy it stopped, perhaps holding a lock), workers are spawned
as before.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import signal
import threading
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger("accords.api")

# The supervisor's handlers, inherited through the fork; a worker answers
# these signals as a spawned one would (uvicorn installs its own for INT and TERM).
_SUPERVISOR_SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGTTIN", "SIGTTOU")
    if hasattr(signal, name)
)


class _ForkContext:
    """Stands in for the "spawn" context uvicorn takes its worker processes from."""

    def __init__(self) -> None:
        self._fork = multiprocessing.get_context("fork")

    def Process(  # the name of the multiprocessing context's method
        self, *, target: Callable[..., None], kwargs: dict[str, Any]
    ) -> multiprocessing.process.BaseProcess:
        return self._fork.Process(target=_run_worker, args=(target,), kwargs=kwargs)


def _run_worker(started: Callable[..., None], /, **kwargs: Any) -> None:
    # ``started`` is uvicorn's entry of a worker process; its own keyword
    # arguments (config, target, sockets...) pass through as they are.
    for number in _SUPERVISOR_SIGNALS:
        signal.signal(number, signal.SIG_DFL)
    started(**kwargs)


def fork_workers(app_module: str) -> bool:
    """Import ``app_module`` here and have uvicorn fork its workers from this
    process; False (workers spawned) where that cannot be done safely."""
    try:
        subprocess_module = importlib.import_module("uvicorn._subprocess")
    except ImportError:
        subprocess_module = None
    if subprocess_module is None or not hasattr(subprocess_module, "spawn"):
        return _spawned("this uvicorn starts its workers otherwise")
    if threading.active_count() > 1:
        return _spawned("a thread is running")
    importlib.import_module(app_module)
    if threading.active_count() > 1:
        return _spawned("importing the app started a thread")
    # What is imported now stays out of each worker's collections, so they
    # do not touch (and so copy) the shared pages just to scan them.
    gc.collect()
    gc.freeze()
    subprocess_module.spawn = _ForkContext()
    return True


def _spawned(reason: str) -> bool:
    log.info("workers_spawned", reason=reason)
    return False
