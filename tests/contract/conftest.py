from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from shared.migrate import upgrade
from shared.security import generate_api_key
from tests.conftest import _create_pg_database, drop_pg_database_later, pg_url
from tests.live import accords_env, serving
from tests.servers import POSTGRES


@dataclass(frozen=True)
class LiveApi:
    base_url: str
    admin_key: str


@pytest.fixture(scope="module")
def live_api() -> Iterator[LiveApi]:
    """`accords serve` (one worker) on a fresh PostgreSQL database."""
    POSTGRES.require()
    name = f"accords_contract_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_pg_database(name))
    url = pg_url(name)
    upgrade(url)
    key = generate_api_key()
    # The contract is about answers, not quotas: a 429 would stand in for the real one.
    env = accords_env(
        database_url=url,
        bootstrap_api_key=key,
        rate_limit_per_minute="1000000",
        # Webhook endpoints need it in production (their secrets are encrypted).
        secret_key="contract-test-secret-key",
    )
    try:
        with serving(env, ready_path="/healthz") as base_url:
            yield LiveApi(base_url=base_url, admin_key=key)
    finally:
        drop_pg_database_later(name)
