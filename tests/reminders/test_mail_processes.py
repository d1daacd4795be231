"""`kill -9` of `accords worker` around email sends (real processes, PostgreSQL, RabbitMQ, SMTP)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import pg_url
from tests.live import accords_env, running, serving
from tests.reminders.smtp import smtp_server
from tests.worker.conftest import eventually
from tests.worker.test_processes import database, vhost  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]

ADMIN_KEY = "accords-mail-kill-test-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def smtp() -> Iterator[Any]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def env(database: str, vhost: str, smtp: Any) -> dict[str, str]:  # noqa: F811
    return accords_env(
        database_url=pg_url(database),
        broker_url=f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        bootstrap_api_key=ADMIN_KEY,
        secret_key="mail-kill-test-" + uuid.uuid4().hex,
        smtp_url=smtp[0],
        smtp_timeout_seconds="30",
        mail_lease_seconds="4",
        mail_retry_schedule="0,1,1",
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


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def subscribed_initiative(client: httpx.AsyncClient) -> tuple[dict, dict]:
    """An initiative whose milestone creations email one subscribed contact at once."""
    stza = await post(
        client, "/v1/organizations", {"name": "STZA", "kind": "government_agency", "country": "PK"}
    )
    gei = await post(
        client, "/v1/organizations", {"name": "GEI", "kind": "research_institute", "country": "CN"}
    )
    agreement = await post(
        client,
        "/v1/agreements",
        {
            "reference": f"MOU-{uuid.uuid4().hex[:8]}",
            "title": "MoU",
            "instrument_type": "mou",
            "legal_character": "non_binding",
            "parties": [
                {"organization_id": stza["id"], "role": "signatory"},
                {"organization_id": gei["id"], "role": "signatory"},
            ],
        },
    )
    contact = await post(
        client,
        f"/v1/organizations/{stza['id']}/contacts",
        {"name": "Ayesha Khan", "email": "ayesha.khan@stza.gov.pk"},
    )
    await post(
        client,
        "/v1/notification-subscriptions",
        {
            "contact_id": contact["id"],
            "event_types": ["milestone.created"],
            "agreement_id": agreement["id"],
        },
    )
    initiative = await post(
        client,
        f"/v1/agreements/{agreement['id']}/initiatives",
        {"title": "Training", "lead_organization_id": stza["id"]},
    )
    return initiative, contact


async def create_milestone(client: httpx.AsyncClient, initiative: dict, title: str) -> None:
    await post(
        client,
        f"/v1/initiatives/{initiative['id']}/milestones",
        {"title": title, "due_on": "2030-01-31"},
    )


async def sent_count(client: httpx.AsyncClient, contact: dict) -> int:
    response = await client.get(
        "/v1/notifications", params={"contact_id": contact["id"], "status": "sent"}
    )
    return len(response.json()["items"])


def kill(process: Any) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


async def test_a_worker_killed_after_a_send_was_recorded_does_not_send_it_again(
    client, env, smtp
) -> None:
    _url, mailbox, _handler = smtp
    start = len(mailbox.messages)
    initiative, contact = await subscribed_initiative(client)
    with running(["worker", "--threads", "2"], env) as first:
        await create_milestone(client, initiative, "First workshop")
        await eventually(lambda: sent_count(client, contact), lambda sent: sent == 1, within=60)
        kill(first)
    with running(["worker", "--threads", "2"], env):
        await create_milestone(client, initiative, "Second workshop")
        await eventually(lambda: sent_count(client, contact), lambda sent: sent == 2, within=60)
    mine = mailbox.message_ids()[start:]

    assert len(mine) == 2
    assert len(set(mine)) == 2


async def test_a_worker_killed_with_mail_claimed_sends_each_once_after_restart(
    client, env, smtp
) -> None:
    _url, mailbox, handler = smtp
    start = len(mailbox.messages)
    initiative, contact = await subscribed_initiative(client)
    handler.gate = threading.Event()
    offered = mailbox.recipients_offered
    with running(["worker", "--threads", "2"], env) as first:
        for number in range(3):
            await create_milestone(client, initiative, f"Workshop {number}")
        # The pump has claimed the batch and is held by the server before the first message.
        await eventually(
            lambda: asyncio.sleep(0, mailbox.recipients_offered),
            lambda seen: seen > offered,
            within=60,
        )
        kill(first)
    handler.gate.set()
    handler.gate = None
    with running(["worker", "--threads", "2"], env):
        await eventually(lambda: sent_count(client, contact), lambda sent: sent == 3, within=60)
    sends = Counter(mailbox.message_ids()[start:])

    assert len(sends) == 3
    assert set(sends.values()) == {1}
