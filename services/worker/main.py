"""`accords worker`: dramatiq worker processes consuming the outbox events.

Each process runs ``--threads`` dramatiq worker threads (async actors share
one event loop per process), the relay and the sweep loop
(:mod:`services.worker.runtime`). With ``--processes`` > 1 this process
supervises that many children and stops them on SIGTERM / SIGINT.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time

import structlog
from dramatiq import Worker
from dramatiq.broker import Broker

from services.worker.actors import declare_actors
from services.worker.runtime import PipelineRuntime
from shared.broker import build_broker
from shared.logging import configure_logging
from shared.settings import Settings

log = structlog.get_logger("accords.worker")


def build_worker_broker(settings: Settings) -> Broker:
    """The broker of a worker process: actors declared, pipeline runtime installed."""
    broker = build_broker(settings.broker_url)
    broker.add_middleware(PipelineRuntime(settings))
    declare_actors(broker)
    return broker


def use_uvloop() -> None:
    """Make the event loop dramatiq's asyncio middleware creates a uvloop one:
    the actors, relay and pumps spend a good part of their CPU in the loop
    and asyncpg's protocol, which run faster on it (as under uvicorn)."""
    try:
        import uvloop
    except ImportError:  # not on this platform: the standard loop
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def run_process(settings: Settings, *, threads: int) -> None:
    """Run one worker process until SIGTERM / SIGINT."""
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    use_uvloop()
    broker = build_worker_broker(settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker = Worker(broker, worker_threads=threads)
    worker.start()
    log.info("worker_started", threads=threads, broker=broker.__class__.__name__)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        worker.stop(timeout=30_000)
        broker.close()
        log.info("worker_stopped")


def run(settings: Settings, *, processes: int, threads: int) -> int:
    """Run ``processes`` worker processes (this one alone when 1)."""
    if processes <= 1:
        run_process(settings, threads=threads)
        return 0
    command = [sys.executable, "-m", "services.cli", "worker", "--processes", "1"]
    children = [subprocess.Popen([*command, "--threads", str(threads)]) for _ in range(processes)]
    stopping = threading.Event()

    def stop_children(*_: object) -> None:
        stopping.set()
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_children)
    signal.signal(signal.SIGINT, stop_children)
    # A child that dies takes the group down: the supervisor (systemd, k8s) restarts it.
    while not stopping.is_set() and all(child.poll() is None for child in children):
        time.sleep(0.5)
    stop_children()
    return max(child.wait() for child in children)
