"""Fixtures of the pipeline tests: the embedded pipeline wired to the app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from services.api.app import create_app
from services.worker.embedded import EmbeddedPipeline
from shared.settings import Settings
from tests.conftest import client_for, make_key

T = TypeVar("T")


@pytest.fixture
def pipeline(settings: Settings, engine: Any) -> Iterator[EmbeddedPipeline]:
    """The in-process pipeline (broker, worker threads, relay); no sweep loop."""
    embedded = EmbeddedPipeline(settings, threads=2, sweep=False, max_retries=1, min_backoff=10)
    embedded.start()
    try:
        yield embedded
    finally:
        embedded.stop()


@pytest.fixture
async def piped_client(settings: Settings, pipeline: EmbeddedPipeline) -> AsyncIterator[Any]:
    """An admin client of an app whose commits feed the embedded pipeline."""
    application = create_app(settings, after_commit=pipeline.after_commit)
    async with application.router.lifespan_context(application):
        key = await make_key(application, ["admin"])
        async with client_for(application, key) as admin:
            admin.app = application  # type: ignore[attr-defined]
            yield admin


async def eventually(
    probe: Callable[[], Awaitable[T]], until: Callable[[T], bool], *, within: float = 30
) -> T:
    """Poll ``probe`` until ``until`` holds (bounded wait for an eventual condition)."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s; last value: {value!r}")
        await asyncio.sleep(0.05)


async def rollup_of(client: httpx.AsyncClient, agreement_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/agreements/{agreement_id}/rollup")
    assert response.status_code == 200, response.text
    return response.json()
