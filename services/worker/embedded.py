"""The pipeline inside one process: `accords dev` and the embedded-path tests.

An in-process broker consumed by worker threads of this process, with the
same actors, relay and sweep as `accords worker`.
"""

from __future__ import annotations

import uuid

from dramatiq import Worker

from services.worker.actors import declare_actors
from services.worker.runtime import PipelineRuntime
from shared.broker import OutboxPublisher, build_broker
from shared.settings import Settings


class EmbeddedPipeline:
    """Start with :meth:`start`; hand :meth:`after_commit` to ``create_app``."""

    def __init__(
        self,
        settings: Settings,
        *,
        threads: int = 4,
        sweep: bool = True,
        max_retries: int | None = None,
        min_backoff: int | None = None,
    ) -> None:
        self.settings = settings
        self.broker = build_broker("")
        self.publisher = OutboxPublisher(self.broker)
        self.runtime = PipelineRuntime(settings, publisher=self.publisher, sweep=sweep)
        self.broker.add_middleware(self.runtime)
        options = {}
        if max_retries is not None:
            options["max_retries"] = max_retries
        if min_backoff is not None:
            options["min_backoff"] = min_backoff
            options["max_backoff"] = min_backoff * 4
        declare_actors(self.broker, **options)
        self.worker = Worker(self.broker, worker_threads=threads, worker_timeout=100)

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop(timeout=10_000)
        self.publisher.close()

    async def after_commit(self, event_ids: list[uuid.UUID]) -> None:
        await self.publisher.after_commit(event_ids)

    def __enter__(self) -> EmbeddedPipeline:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
