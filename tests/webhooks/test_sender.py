"""The delivery client: keep-alive per origin, bounded connections, timeouts.

These drive :class:`WebhookSender` against a receiver on 127.0.0.1 directly;
the SSRF checks of the same transport are in test_ssrf_at_send.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.worker.sender import WebhookSender
from shared.settings import Settings
from tests.webhooks.receiver import Answer, Receiver
from tests.worker.conftest import eventually

HEADERS = {"content-type": "application/json"}


@pytest.fixture
async def sender(settings: Settings) -> AsyncIterator[WebhookSender]:
    sender = WebhookSender(settings, max_connections=4)
    try:
        yield sender
    finally:
        await sender.aclose()


async def test_sequential_sends_reuse_one_connection(sender) -> None:
    async with Receiver() as receiver:
        outcomes = [await sender.send(receiver.url, headers=HEADERS, body="{}") for _ in range(5)]
    assert [outcome.status_code for outcome in outcomes] == [200] * 5
    assert receiver.connections == 1


async def test_a_connection_the_receiver_closed_is_not_used_again(sender) -> None:
    async with Receiver([Answer(200, close=True)]) as receiver:
        first = await sender.send(receiver.url, headers=HEADERS, body="{}")

        async def closed() -> int:
            return receiver.closed_connections

        await eventually(closed, lambda count: count >= 1)
        second = await sender.send(receiver.url, headers=HEADERS, body="{}")
    assert (first.status_code, first.error) == (200, None)
    assert (second.status_code, second.error) == (200, None)
    assert receiver.connections == 2


async def test_concurrent_sends_use_every_connection_of_the_bound_and_no_more(sender) -> None:
    # Each answer takes long enough that the 20 sends overlap: serial sends
    # would use one connection, unbounded ones up to 20.
    async with Receiver() as receiver:
        receiver.delay = 0.2
        outcomes = await asyncio.gather(
            *(sender.send(receiver.url, headers=HEADERS, body="{}") for _ in range(20))
        )
    assert all(outcome.succeeded for outcome in outcomes)
    assert (len(receiver.requests), receiver.connections) == (20, 4)


async def test_a_long_answer_is_cut_at_2_kb_and_its_connection_not_reused(sender) -> None:
    async with Receiver([Answer(200, body=b"x" * 100_000)]) as receiver:
        first = await sender.send(receiver.url, headers=HEADERS, body="{}")
        second = await sender.send(receiver.url, headers=HEADERS, body="{}")
    assert first.succeeded and first.response_body is not None
    assert len(first.response_body.encode()) <= 2048
    assert (second.status_code, second.response_body) == (200, "ok")
    assert receiver.connections == 2


async def test_a_receiver_slower_than_the_timeout_is_a_timed_out_attempt(
    database_url: str,
) -> None:
    settings = Settings(
        database_url=database_url,
        environment="test",
        webhook_allow_private_targets=True,
        webhook_timeout_seconds=0.2,
    )
    sender = WebhookSender(settings)
    try:
        async with Receiver() as receiver:
            receiver.delay = 1.0
            outcome = await sender.send(receiver.url, headers=HEADERS, body="{}")
    finally:
        await sender.aclose()
    assert outcome.status_code is None
    assert outcome.error == "timed out after 0.2 s"


async def test_a_closed_port_is_a_connection_error_not_an_exception(sender) -> None:
    async with Receiver() as receiver:
        url = receiver.url
    outcome = await sender.send(url, headers=HEADERS, body="{}")
    assert outcome.status_code is None
    assert outcome.error is not None and outcome.error.startswith("ConnectError")
