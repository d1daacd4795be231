"""Fixtures of the reminder tests: a real SMTP server and the pipeline sending to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from services.api.app import create_app
from services.worker.embedded import EmbeddedPipeline
from shared.settings import Settings
from tests.conftest import client_for, make_key
from tests.reminders.smtp import smtp_server


@pytest.fixture
def smtp() -> Iterator[Any]:
    with smtp_server() as server:
        yield server


def mail_settings(settings: Settings, smtp_url: str, **overrides: Any) -> Settings:
    return settings.model_copy(
        update={
            "smtp_url": smtp_url,
            "mail_retry_schedule": [0, 1, 1],
            "mail_lease_seconds": 10.0,
            "smtp_timeout_seconds": 5.0,
            "public_url": "https://accords.example.gov",
            **overrides,
        }
    )


@pytest.fixture
async def mail_client(settings: Settings, engine: Any, smtp: Any) -> AsyncIterator[Any]:
    """An admin client whose commits feed a pipeline that mails through ``smtp``."""
    url, mailbox, _handler = smtp
    configured = mail_settings(settings, url)
    pipeline = EmbeddedPipeline(configured, threads=2, sweep=False, max_retries=1, min_backoff=10)
    pipeline.start()
    try:
        application = create_app(configured, after_commit=pipeline.after_commit)
        async with application.router.lifespan_context(application):
            key = await make_key(application, ["admin"])
            async with client_for(application, key) as admin:
                admin.app = application  # type: ignore[attr-defined]
                admin.pipeline = pipeline  # type: ignore[attr-defined]
                admin.mailbox = mailbox  # type: ignore[attr-defined]
                admin.settings = configured  # type: ignore[attr-defined]
                yield admin
    finally:
        pipeline.stop()
