"""`kill -9` of `accords worker` during deliveries, then a restart, leaves no
event undelivered (real processes, PostgreSQL and RabbitMQ)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.conftest import pg_url
from tests.live import accords_env, running, serving
from tests.webhooks.receiver import Receiver
from tests.worker.test_processes import connect, database, vhost  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]

ADMIN_KEY = "accords-webhook-kill-test-" + uuid.uuid4().hex
EVENTS = 300


@pytest.fixture(scope="module")
def env(database: str, vhost: str) -> dict[str, str]:  # noqa: F811
    return accords_env(
        database_url=pg_url(database),
        broker_url=f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        bootstrap_api_key=ADMIN_KEY,
        secret_key="webhook-kill-test-" + uuid.uuid4().hex,
        webhook_allow_private_targets="true",
        webhook_timeout_seconds="2",
        webhook_retry_schedule="0,1,1,1,1,1,1,1",
        rate_limit_per_minute=str(10**6),
        sweep_interval_seconds="3600",
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


async def organization_event_ids(database: str) -> set[str]:  # noqa: F811
    connection = await connect(database)
    try:
        rows = await connection.fetch(
            "SELECT id FROM outbox_events WHERE type = 'organization.created'"
        )
    finally:
        await connection.close()
    return {str(row["id"]) for row in rows}


async def create_organizations(client: httpx.AsyncClient) -> None:
    for number in range(EVENTS):
        response = await client.post(
            "/v1/organizations",
            json={"name": f"Kill test {number}", "kind": "ngo", "country": "PK"},
        )
        assert response.status_code == 201, response.text


def webhook_ids(receiver: Receiver) -> set[str]:
    return {request.headers["webhook-id"] for request in receiver.requests}


async def test_kill_9_during_deliveries_then_restart_delivers_every_event(
    client,
    env,
    database,  # noqa: F811
) -> None:
    async with Receiver() as receiver:
        receiver.delay = 0.02
        response = await client.post(
            "/v1/webhook-endpoints",
            json={"url": receiver.url, "event_types": ["organization.", "webhook.test"]},
        )
        assert response.status_code == 201, response.text
        endpoint = response.json()
        with running(["worker", "--threads", "4"], env) as first:
            # A test ping proves the worker is up before the events start.
            await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")
            await receiver.wait_for(1)
            writes = asyncio.create_task(create_organizations(client))
            await receiver.wait_for(1 + EVENTS // 10)
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
        await writes
        received_before_restart = len(webhook_ids(receiver))
        expected = await organization_event_ids(database)
        with running(["worker", "--threads", "4"], env):
            deadline = time.monotonic() + 120
            while not webhook_ids(receiver) >= expected and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    assert received_before_restart < EVENTS
    assert expected <= webhook_ids(receiver)
