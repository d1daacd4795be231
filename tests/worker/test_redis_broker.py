"""Redis as the broker: the same pipeline across real processes.

RabbitMQ is the production default; Redis is the supported alternative, so
the path a write takes to its rollup is checked on it too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import pg_url
from tests.live import accords_env, serving
from tests.servers import REDIS
from tests.worker.test_processes import (
    ADMIN_KEY,
    agreement_with_milestones,
    complete,
    database,  # noqa: F401  (a fixture of this module too)
    wait_for_rollup,
    worker,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

# A database number of its own, so no other Redis user sees these queues.
REDIS_DATABASE = 13


@pytest.fixture(scope="module")
def env(database: str) -> dict[str, str]:  # noqa: F811
    REDIS.require()
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DATABASE).flushdb()
    return accords_env(
        database_url=pg_url(database),
        broker_url=f"redis://127.0.0.1:6379/{REDIS_DATABASE}",
        bootstrap_api_key=ADMIN_KEY,
        rate_limit_per_minute=str(10**6),
        sweep_interval_seconds="3600",
    )


@pytest.fixture(scope="module")
def api(env: dict[str, str]) -> Iterator[str]:
    with serving(env) as base:
        yield base


async def test_a_write_becomes_a_rollup_through_a_redis_broker(
    api: str,
    env: dict[str, str],
    database: str,  # noqa: F811
) -> None:
    async with httpx.AsyncClient(
        base_url=api, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ) as client:
        agreement, milestones = await agreement_with_milestones(client, 3)
        with worker(env):
            for milestone in milestones[:2]:
                await complete(client, milestone)

            rollup = await wait_for_rollup(database, agreement["id"], done=2)

    assert rollup["milestones"]["total"] == 3
    assert uuid.UUID(rollup["agreement_id"]) == uuid.UUID(agreement["id"])
