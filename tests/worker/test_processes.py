"""The pipeline across real processes: `accords serve`, `accords worker`, PostgreSQL, RabbitMQ.

Each module run gets its own database and RabbitMQ virtual host, so other
suites (and benchmarks) sharing the servers never consume these messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import migrated_pg_database, pg_url
from tests.live import Launched, accords_env, running, serving
from tests.servers import RABBITMQ
from tests.worker.conftest import eventually

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]

ADMIN_KEY = "accords-pipeline-test-" + uuid.uuid4().hex
# Sweeps each worker runs once the overdue notices are out.
SWEEPS_AFTER = 5


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    RABBITMQ.require()
    name = f"accords_test_{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    try:
        yield name
    finally:
        with contextlib.suppress(Exception):
            rabbitmqctl("delete_vhost", name)


@pytest.fixture(scope="module")
async def database() -> AsyncIterator[str]:
    async with migrated_pg_database("accords_pipeline") as name:
        yield name


@pytest.fixture(scope="module")
def env(database: str, vhost: str) -> dict[str, str]:
    return accords_env(
        database_url=pg_url(database),
        broker_url=f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        bootstrap_api_key=ADMIN_KEY,
        rate_limit_per_minute=str(10**6),
        sweep_interval_seconds="3600",
    )


@pytest.fixture(scope="module")
def api(env: dict[str, str]) -> Iterator[str]:
    with serving(env) as base:
        yield base


@contextlib.contextmanager
def worker(env: dict[str, str], **settings: str) -> Iterator[Launched]:
    """An `accords worker` process with four threads (``settings`` as ACCORDS_* variables)."""
    worker_env = {**env, **{f"ACCORDS_{name.upper()}": value for name, value in settings.items()}}
    with running(["worker", "--threads", "4"], worker_env, stop_within=30) as launched:
        yield launched


def sweeps_run(launched: Launched) -> int:
    """How many sweeps the worker ran (it logs each pass at debug level)."""
    return sum(1 for record in launched.log_events("sweep_pass") if record.get("ran"))


@pytest.fixture
async def client(api: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=api, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ) as http:
        yield http


async def connect(database: str) -> asyncpg.Connection:
    return await asyncpg.connect(pg_url(database).replace("+asyncpg", ""))


async def agreement_with_milestones(
    client: httpx.AsyncClient, count: int, *, due_on: str = "2030-01-31"
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    parties = []
    for country in ("PK", "CN"):
        response = await client.post(
            "/v1/organizations",
            json={"name": f"Org {uuid.uuid4().hex[:6]}", "kind": "university", "country": country},
        )
        assert response.status_code == 201, response.text
        parties.append({"organization_id": response.json()["id"], "role": "signatory"})
    response = await client.post(
        "/v1/agreements",
        json={
            "reference": f"PIPE-{uuid.uuid4().hex[:8]}",
            "title": "Pipeline test agreement",
            "instrument_type": "mou",
            "legal_character": "non_binding",
            "parties": parties,
        },
    )
    assert response.status_code == 201, response.text
    agreement = response.json()
    response = await client.post(
        f"/v1/agreements/{agreement['id']}/initiatives",
        json={"title": "Work", "lead_organization_id": parties[0]["organization_id"]},
    )
    assert response.status_code == 201, response.text
    initiative = response.json()
    milestones = []
    for number in range(count):
        response = await client.post(
            f"/v1/initiatives/{initiative['id']}/milestones",
            json={"title": f"Milestone {number}", "due_on": due_on},
        )
        assert response.status_code == 201, response.text
        milestones.append(response.json())
    return agreement, milestones


async def complete(client: httpx.AsyncClient, milestone: dict[str, Any]) -> None:
    response = await client.patch(
        f"/v1/milestones/{milestone['id']}",
        json={"status": "done"},
        headers={"If-Match": f'"{milestone["version"]}"'},
    )
    assert response.status_code == 200, response.text


async def wait_for_rollup(
    database: str, agreement_id: str, done: int, *, within: float = 60
) -> dict[str, Any]:
    """The rollup the worker stored, once it counts ``done`` milestones done."""
    connection = await connect(database)
    body: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            stored = await connection.fetchval(
                "SELECT body::text FROM agreement_rollups WHERE agreement_id = $1",
                uuid.UUID(agreement_id),
            )
            body = json.loads(stored) if stored else {}
            if body.get("milestones", {}).get("done") == done:
                return body
            await asyncio.sleep(0.1)
    finally:
        await connection.close()
    raise AssertionError(f"stored rollup did not reach {done} done milestones: {body}")


async def unprocessed_completions(database: str, agreement_id: str) -> int:
    """milestone.completed events of the agreement no rollup consumer has processed."""
    connection = await connect(database)
    try:
        return await connection.fetchval(
            """
            SELECT count(*) FROM outbox_events e
            WHERE e.aggregate_id = $1 AND e.type = 'milestone.completed'
              AND NOT EXISTS (SELECT 1 FROM processed_events p
                              WHERE p.event_id = e.id AND p.consumer = 'rollups')
            """,
            uuid.UUID(agreement_id),
        )
    finally:
        await connection.close()


async def wait_all_processed(database: str, agreement_id: str, *, within: float = 60) -> int:
    deadline = time.monotonic() + within
    remaining = -1
    while time.monotonic() < deadline:
        remaining = await unprocessed_completions(database, agreement_id)
        if remaining == 0:
            return 0
        await asyncio.sleep(0.2)
    return remaining


async def test_a_write_becomes_a_rollup_through_serve_and_worker(client, env, database) -> None:
    agreement, milestones = await agreement_with_milestones(client, 2)
    with worker(env):
        await complete(client, milestones[0])
        rollup = await wait_for_rollup(database, agreement["id"], done=1)
    assert rollup["progress"] == 0.5


async def test_killing_the_worker_mid_way_loses_no_completion(client, env, database) -> None:
    agreement, milestones = await agreement_with_milestones(client, 50)
    with worker(env) as first:
        for milestone in milestones[:20]:
            await complete(client, milestone)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    for milestone in milestones[20:]:
        await complete(client, milestone)
    with worker(env):
        await wait_for_rollup(database, agreement["id"], done=50)
        assert await wait_all_processed(database, agreement["id"]) == 0


@pytest.mark.disruptive
async def test_writes_succeed_while_rabbitmq_is_down_and_are_processed_later(
    client, env, database
) -> None:
    agreement, milestones = await agreement_with_milestones(client, 5)
    with worker(env):
        rabbitmqctl("stop_app")
        try:
            for milestone in milestones:
                await complete(client, milestone)
        finally:
            rabbitmqctl("start_app")
        await wait_for_rollup(database, agreement["id"], done=5, within=90)
        assert await wait_all_processed(database, agreement["id"], within=90) == 0


async def test_two_sweeping_workers_emit_each_overdue_milestone_once(client, env, database) -> None:
    agreement, milestones = await agreement_with_milestones(client, 10, due_on="2020-01-31")
    connection = await connect(database)
    try:
        sweeping = {"sweep_interval_seconds": "0.2", "log_level": "debug"}
        with worker(env, **sweeping) as first, worker(env, **sweeping) as second:
            deadline = time.monotonic() + 60
            count = 0
            while time.monotonic() < deadline and count < len(milestones):
                count = await connection.fetchval(
                    "SELECT count(*) FROM outbox_events"
                    " WHERE aggregate_id = $1 AND type = 'milestone.overdue'",
                    uuid.UUID(agreement["id"]),
                )
                await asyncio.sleep(0.2)
            # Then each worker sweeps again, several times: none may emit again.
            wanted = [sweeps_run(launched) + SWEEPS_AFTER for launched in (first, second)]

            async def swept() -> list[int]:
                return [sweeps_run(launched) for launched in (first, second)]

            await eventually(swept, lambda counts: all(map(int.__ge__, counts, wanted)), within=60)
        count = await connection.fetchval(
            "SELECT count(*) FROM outbox_events"
            " WHERE aggregate_id = $1 AND type = 'milestone.overdue'",
            uuid.UUID(agreement["id"]),
        )
    finally:
        await connection.close()
    assert count == len(milestones)
