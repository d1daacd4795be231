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

Each forked worker also listens on a socket of its own (``SO_REUSEPORT``, on
Linux), so the kernel spreads new connections over the workers. On the one
socket uvicorn shares, whichever worker wakes first accepts every connection
waiting: a client opening 16 keep-alive connections at once had 12 of them
on one worker, which then ran a core flat out while the other idled
(bench.pipeline: 0.62 and 0.17 cores). The supervisor keeps its socket bound
but never listens on it, so it only holds the port between restarts.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import signal
import socket
import sys
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
    # arguments (config, target, stdin...) pass through as they are, but for
    # the sockets, each a port-sharing one of this worker's own.
    for number in _SUPERVISOR_SIGNALS:
        signal.signal(number, signal.SIG_DFL)
    kwargs["sockets"] = [_own_socket(shared) for shared in kwargs.get("sockets") or []]
    started(**kwargs)


def _shares_port(sock: socket.socket) -> bool:
    """Whether ``sock`` lets other sockets (each worker's) bind its port too."""
    option = getattr(socket, "SO_REUSEPORT", None)
    return option is not None and bool(sock.getsockopt(socket.SOL_SOCKET, option))


def _own_socket(shared: socket.socket) -> socket.socket:
    """A socket of this worker's own on ``shared``'s address, where the
    supervisor bound that port-sharing (:func:`bind_shared_port`); else ``shared``."""
    if not _shares_port(shared):
        return shared
    own = _port_sharing_socket(shared.family)
    own.bind(shared.getsockname())
    shared.close()  # this worker's copy; the supervisor keeps its own
    return own


def _port_sharing_socket(family: socket.AddressFamily) -> socket.socket:
    sock = socket.socket(family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def bind_shared_port(host: str, port: int) -> socket.socket | None:
    """The supervisor's socket on ``host:port``, bound port-sharing and not
    listening (each worker listens on its own); None where the platform does
    not spread connections over port-sharing sockets (only Linux does)."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT"):
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # First as uvicorn binds (SO_REUSEADDR alone): a port anything listens on
    # is refused, even another port-sharing server's, which would otherwise
    # take part of this one's connections unnoticed.
    with socket.socket(family=family, type=socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]  # port 0: the one the system picked
    sock = _port_sharing_socket(family)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


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


def run(app: str, **options: Any) -> None:
    """``uvicorn.run(app, **options)``; with ``workers`` > 1, the workers forked
    from this process (:func:`fork_workers`, of ``app``'s module) where that
    is safe, each listening on a socket of its own where the platform allows."""
    import uvicorn

    if options.get("workers", 1) > 1 and fork_workers(app.partition(":")[0]):
        _run_forked(app, **options)
    else:
        uvicorn.run(app, **options)


def _run_forked(app: str, **options: Any) -> None:
    import uvicorn
    from uvicorn.config import Config
    from uvicorn.supervisors import Multiprocess

    config = Config(app, **options)
    try:
        sock = bind_shared_port(config.host, config.port)
    except OSError as exc:
        log.error("bind_failed", host=config.host, port=config.port, error=str(exc))
        sys.exit(3)  # uvicorn's STARTUP_FAILURE
    if sock is None:
        uvicorn.run(app, **options)
        return
    log.info("listening", host=config.host, port=sock.getsockname()[1], workers=config.workers)
    Multiprocess(config, sockets=[sock]).run()
