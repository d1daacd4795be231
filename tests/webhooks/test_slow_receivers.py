"""A receiver slower than the lease gets each attempt once: the lease is renewed
while its send runs, so no other pump claims the delivery meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from services.worker.pump import DeliveryPump
from shared.models import WebhookAttempt, WebhookDelivery
from shared.settings import Settings
from tests.factories import create_organization
from tests.webhooks.factories import create_endpoint
from tests.webhooks.helpers import fan_out_all
from tests.webhooks.receiver import Receiver
from tests.worker.conftest import eventually

LEASE_SECONDS = 2.0
# The receiver answers well after the lease would have run out (and within
# the send timeout, so the send succeeds).
ANSWER_AFTER_SECONDS = 3 * LEASE_SECONDS


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"webhook_lease_seconds": LEASE_SECONDS, "webhook_timeout_seconds": 10}
    )


@contextlib.asynccontextmanager
async def pumps(app, settings: Settings, count: int) -> AsyncIterator[list[DeliveryPump]]:  # type: ignore[no-untyped-def]
    """``count`` pumps polling often, as several workers would."""
    running = [DeliveryPump(app.state.sessionmaker, settings, interval=0.05) for _ in range(count)]
    tasks = [asyncio.create_task(pump.run()) for pump in running]
    try:
        yield running
    finally:
        for pump in running:
            pump.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)


async def attempts_and_status(app) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        attempts = await session.scalar(select(func.count()).select_from(WebhookAttempt))
        status = await session.scalar(select(WebhookDelivery.status))
    return attempts, status


async def test_a_receiver_answering_after_the_lease_would_expire_is_sent_the_attempt_once(
    client, app, settings
) -> None:
    async with Receiver() as receiver:
        receiver.delay = ANSWER_AFTER_SECONDS
        await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)  # no pump running yet: the delivery is due for polling
        async with pumps(app, settings, count=2):
            await receiver.wait_for(1)
            attempts, status = await eventually(
                lambda: attempts_and_status(app), lambda result: result[1] == "succeeded"
            )
            # Past another lease: a delivery whose lease had lapsed would be sent again.
            await asyncio.sleep(2 * LEASE_SECONDS)
    assert (receiver.arrivals, attempts, status) == (1, 1, "succeeded")
