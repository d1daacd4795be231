"""Webhook tests run with a short retry schedule (0,0,0: three immediate attempts)
and, unless a module says otherwise, with private targets allowed so that the
receivers on 127.0.0.1 can be reached."""

from __future__ import annotations

import pytest

from shared.settings import Settings


@pytest.fixture
def allow_private_targets() -> bool:
    return True


@pytest.fixture
def settings(database_url: str, allow_private_targets: bool) -> Settings:
    return Settings(
        database_url=database_url,
        log_format="console",
        log_level="warning",
        environment="test",
        webhook_allow_private_targets=allow_private_targets,
        webhook_retry_schedule=[0, 0, 0],
        webhook_timeout_seconds=5,
    )
