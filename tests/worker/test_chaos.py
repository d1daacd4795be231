"""A short chaos run: writes with retries while a worker and an API die by SIGKILL.

Two `accords serve` processes and an `accords worker` on PostgreSQL and
RabbitMQ; a few hundred creations, each with its own Idempotency-Key, that
clients retry (on either API) until acknowledged. Midway the worker is
killed with SIGKILL and replaced, then one API is killed and restarted. Then:
every acknowledged write is readable and made once, the feed has its event
with no sequence gap in any stream, and a receiver that verifies the
Standard Webhooks signature got each event at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import time
import uuid
from collections import defaultdict
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from tests.conftest import pg_url
from tests.live import accords_env, free_port, running
from tests.webhooks.receiver import Receiver
from tests.worker.test_processes import connect, database, vhost  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]

ADMIN_KEY = "accords-chaos-test-" + uuid.uuid4().hex
WRITES = 300
CLIENTS = 8
KILL_WORKER_AT = WRITES // 3
KILL_API_AT = 2 * WRITES // 3
RETRY_FOR_SECONDS = 45


@pytest.fixture(scope="module")
def env(database: str, vhost: str) -> dict[str, str]:  # noqa: F811
    return accords_env(
        database_url=pg_url(database),
        broker_url=f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        bootstrap_api_key=ADMIN_KEY,
        secret_key="chaos-test-" + uuid.uuid4().hex,
        webhook_allow_private_targets="true",
        webhook_timeout_seconds="2",
        webhook_retry_schedule="0,1,1,1,1,1,1,1",
        rate_limit_per_minute=str(10**6),
        sweep_interval_seconds="3600",
    )


def serve(port: int, env: dict[str, str]) -> contextlib.AbstractContextManager[Any]:
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    return running(args, env, ready_url=f"http://127.0.0.1:{port}/readyz")


def work(env: dict[str, str]) -> contextlib.AbstractContextManager[Any]:
    return running(["worker", "--threads", "4"], env)


def kill_9(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


class Writers:
    """Clients creating organizations, each retried with its key until acknowledged."""

    def __init__(self, bases: list[str]) -> None:
        self.bases = bases
        self.acknowledged: dict[str, str] = {}  # Idempotency-Key -> organization id
        self.retries = 0
        self._turn = itertools.count()

    async def write(self, http: httpx.AsyncClient, number: int) -> None:
        key = f"chaos-{number}-{uuid.uuid4().hex}"
        body = {"name": f"Chaos {number}", "kind": "ngo", "country": "PK"}
        deadline = time.monotonic() + RETRY_FOR_SECONDS
        while time.monotonic() < deadline:
            base = self.bases[next(self._turn) % len(self.bases)]
            try:
                response = await http.post(
                    f"{base}/v1/organizations", json=body, headers={"Idempotency-Key": key}
                )
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code == 201:
                self.acknowledged[key] = response.json()["id"]
                return
            # Refused connection, a reset mid-request, 409 (the first try still
            # holds the key) or a 5xx: the same request again, same key.
            assert response is None or response.status_code in (409, 500, 502, 503), response.text
            self.retries += 1
            await asyncio.sleep(0.2)
        raise AssertionError(f"write {number} was never acknowledged")

    async def run(self, numbers: range) -> None:
        queue = list(numbers)
        async with httpx.AsyncClient(
            headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=5
        ) as http:

            async def client() -> None:
                while queue:
                    await self.write(http, queue.pop(0))

            await asyncio.gather(*(client() for _ in range(CLIENTS)))


async def whole_feed(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        response = await http.get("/v1/events", params=params)
        assert response.status_code == 200, response.text
        events.extend(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return events


async def feed_with(http: httpx.AsyncClient, ids: set[str], within: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within
    while True:
        events = await whole_feed(http)
        created = {
            event["data"]["id"] for event in events if event["type"] == "organization.created"
        }
        if ids <= created or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.3)


async def test_writes_survive_a_worker_and_an_api_killed_midway(
    env,
    database,  # noqa: F811
) -> None:
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    writers = Writers(bases)
    with contextlib.ExitStack() as stack:
        async with Receiver() as receiver:
            first_api = await asyncio.to_thread(stack.enter_context, serve(ports[0], env))
            await asyncio.to_thread(stack.enter_context, serve(ports[1], env))
            async with httpx.AsyncClient(
                base_url=bases[1], headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
            ) as admin:
                created = await admin.post(
                    "/v1/webhook-endpoints",
                    json={"url": receiver.url, "event_types": ["organization."]},
                )
                assert created.status_code == 201, created.text
                secret = created.json()["secret"]
                first_worker = await asyncio.to_thread(stack.enter_context, work(env))

                await writers.run(range(KILL_WORKER_AT))
                kill_9(first_worker)
                await asyncio.to_thread(stack.enter_context, work(env))
                await writers.run(range(KILL_WORKER_AT, KILL_API_AT))
                # Kill the API while writes are in flight on it, then start it again.
                during = asyncio.create_task(writers.run(range(KILL_API_AT, WRITES)))
                await asyncio.sleep(0.3)
                kill_9(first_api)
                await asyncio.to_thread(stack.enter_context, serve(ports[0], env))
                await during

                ids = set(writers.acknowledged.values())
                readable = [
                    (await admin.get(f"/v1/organizations/{id_}")).status_code for id_ in ids
                ]
                events = await feed_with(admin, ids, within=30)
                wanted = {
                    event["id"] for event in events if event["type"].startswith("organization.")
                }
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    delivered = {request.headers["webhook-id"] for request in receiver.requests}
                    if wanted <= delivered:
                        break
                    await asyncio.sleep(0.2)
                requests = list(receiver.requests)

    connection = await connect(database)
    try:
        stored = await connection.fetchval(
            "SELECT count(*) FROM organizations WHERE name LIKE 'Chaos %'"
        )
    finally:
        await connection.close()

    assert writers.retries > 0  # the API's death was felt by the clients
    assert len(writers.acknowledged) == WRITES
    assert len(ids) == WRITES and stored == WRITES  # each retried write made once
    assert readable == [200] * WRITES
    created_events = [event for event in events if event["type"] == "organization.created"]
    assert {event["data"]["id"] for event in created_events} >= ids
    streams: dict[str, list[int]] = defaultdict(list)
    for event in events:
        if event["type"].startswith("organization."):  # an organization's own stream
            streams[event["data"]["id"]].append(event["sequence"])
    assert all(sorted(seqs) == list(range(1, len(seqs) + 1)) for seqs in streams.values())
    verifier = Webhook(secret)
    for request in requests:
        verifier.verify(request.body, request.headers)  # raises on a bad signature
    assert wanted <= {request.headers["webhook-id"] for request in requests}
