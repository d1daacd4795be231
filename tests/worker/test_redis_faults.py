"""Redis as the broker survives what RabbitMQ survives (real processes).

The kill -9 of a worker during completions, and Redis itself stopped with
``redis-cli shutdown nosave`` (everything it held is gone) and started again
exactly the way ``.ci/run`` starts it. This module's queues live in a Redis
database number of their own; Redis is restarted in a ``finally``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

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
    wait_all_processed,
    wait_for_rollup,
    worker,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

# Not 13 (tests/worker/test_redis_broker.py) nor 0: nobody else's queues.
REDIS_DATABASE = 9
# What .ci/run does when Redis is down, word for word.
CI_REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]


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
        # What Redis lost is handed over again after this long (60 s by default).
        broker_redelivery_seconds="4",
    )


@pytest.fixture(scope="module")
def api(env: dict[str, str]) -> Iterator[str]:
    with serving(env) as base:
        yield base


@pytest.fixture
async def client(api: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=api, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ) as http:
        yield http


def start_redis_like_ci() -> None:
    os.makedirs("/var/lib/redis", exist_ok=True)
    os.makedirs("/var/log/redis", exist_ok=True)
    subprocess.run(CI_REDIS_START, check=False, capture_output=True, timeout=30)
    deadline = time.monotonic() + 30
    while not REDIS.reachable():
        if time.monotonic() > deadline:
            raise AssertionError("Redis did not come back")
        time.sleep(0.1)


def shutdown_redis() -> None:
    subprocess.run(["redis-cli", "shutdown", "nosave"], capture_output=True, timeout=30)
    deadline = time.monotonic() + 10
    while REDIS.reachable() and time.monotonic() < deadline:
        time.sleep(0.05)


async def test_killing_the_worker_mid_way_loses_no_completion_on_redis(
    client,
    env,
    database,  # noqa: F811
) -> None:
    agreement, milestones = await agreement_with_milestones(client, 50)
    with worker(env) as first:
        for milestone in milestones[:20]:
            await complete(client, milestone)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    for milestone in milestones[20:]:
        await complete(client, milestone)
    with worker(env):
        await wait_for_rollup(database, agreement["id"], done=50, within=60)
        assert await wait_all_processed(database, agreement["id"]) == 0


@pytest.mark.disruptive
async def test_redis_shut_down_without_saving_loses_no_completion(
    client,
    env,
    database,  # noqa: F811
) -> None:
    agreement, milestones = await agreement_with_milestones(client, 10)
    try:
        # Handed to Redis while no worker runs: they are in its queue when it dies.
        for milestone in milestones[:5]:
            await complete(client, milestone)
        shutdown_redis()
        # Accepted while Redis is down: only the outbox has them.
        for milestone in milestones[5:]:
            await complete(client, milestone)
    finally:
        start_redis_like_ci()
    with worker(env):
        await wait_for_rollup(database, agreement["id"], done=10, within=60)
        assert await wait_all_processed(database, agreement["id"]) == 0
