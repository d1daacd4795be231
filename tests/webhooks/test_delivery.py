"""Delivery: signing, retries, Retry-After, 410, redirects, rotation, replay.

The worker's functions run directly against a real database and a receiver
listening on 127.0.0.1; no broker is involved.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update
from standardwebhooks import Webhook

from services.worker.fanout import fan_out_events
from services.worker.pump import DeliveryPump
from services.worker.sender import WebhookSender
from shared.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from shared.settings import Settings
from tests.api.test_query_counts import counting_statements
from tests.conftest import client_for, make_key
from tests.factories import create_agreement, create_organization
from tests.webhooks.factories import create_endpoint
from tests.webhooks.helpers import deliver_until_idle, fan_out_all
from tests.webhooks.receiver import Answer, Receiver
from tests.worker.conftest import eventually


@pytest.fixture
async def sender(settings: Settings) -> AsyncIterator[WebhookSender]:
    sender = WebhookSender(settings)
    try:
        yield sender
    finally:
        await sender.aclose()


async def deliveries_of(client, endpoint: dict) -> list[dict]:
    response = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")
    return response.json()["items"]


async def test_every_delivery_verifies_with_the_reference_library(client, app, sender) -> None:
    async with Receiver() as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
        requests = await receiver.wait_for(2)
    verified = [Webhook(endpoint["secret"]).verify(r.body, r.headers) for r in requests]
    assert [payload["type"] for payload in verified] == ["organization.created"] * 2


async def test_the_webhook_id_is_the_event_id(client, app, sender) -> None:
    async with Receiver() as receiver:
        await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
        [request] = await receiver.wait_for(1)
    async with app.state.sessionmaker() as session:
        event_id = await session.scalar(select(OutboxEvent.id))
    assert request.headers["webhook-id"] == str(event_id)


async def test_the_body_carries_type_timestamp_sequence_and_data(client, app, sender) -> None:
    async with Receiver() as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        organization = await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
        [request] = await receiver.wait_for(1)
    payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert (sorted(payload), payload["sequence"], payload["data"]["id"]) == (
        ["data", "sequence", "timestamp", "type"],
        1,
        organization["id"],
    )


async def test_a_receiver_answering_500_500_200_sees_one_webhook_id_three_times(
    client, app, sender
) -> None:
    async with Receiver([500, 500, 200]) as receiver:
        await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
        requests = await receiver.wait_for(3)
    assert len({request.headers["webhook-id"] for request in requests}) == 1


async def test_the_log_shows_three_attempts_after_500_500_200(client, app, sender) -> None:
    async with Receiver([500, 500, 200]) as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
    [delivery] = await deliveries_of(client, endpoint)
    assert (delivery["status"], [a["status_code"] for a in delivery["attempts"]]) == (
        "succeeded",
        [500, 500, 200],
    )


async def test_attempts_record_duration_and_the_response_body(client, app, sender) -> None:
    async with Receiver([Answer(500, body=b"x" * 5000)]) as receiver:
        receiver.delay = 0.3  # the attempt's duration includes the receiver's 300 ms
        endpoint = await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
    [delivery] = await deliveries_of(client, endpoint)
    first = delivery["attempts"][0]
    # At most the send timeout (5 s here), at least the receiver's 300 ms.
    assert (len(first["response_body"]), 300 <= first["duration_ms"] < 5000) == (2048, True)


async def test_a_delivery_fails_when_the_schedule_is_spent(client, app, sender) -> None:
    async with Receiver([500, 500, 500, 500]) as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
    [delivery] = await deliveries_of(client, endpoint)
    assert (delivery["status"], len(delivery["attempts"])) == ("failed", 3)


async def test_410_disables_the_endpoint(client, app, sender) -> None:
    async with Receiver([410]) as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
    response = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}")
    assert (response.json()["enabled"], response.json()["disabled_reason"]) == (
        False,
        "the endpoint answered 410 Gone",
    )


async def test_410_emits_webhook_endpoint_disabled(client, app, sender) -> None:
    async with Receiver([410]) as receiver:
        await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
    async with app.state.sessionmaker() as session:
        types = (await session.scalars(select(OutboxEvent.type))).all()
    assert "webhook_endpoint.disabled" in types


async def test_a_disabled_endpoint_gets_no_new_deliveries(client, app, sender) -> None:
    async with Receiver([410]) as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
    assert len(await deliveries_of(client, endpoint)) == 1


async def test_retry_after_is_honoured_on_429(client, app, sender) -> None:
    async with Receiver([Answer(429, headers={"Retry-After": "3600"})]) as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
    [delivery] = await deliveries_of(client, endpoint)
    next_attempt = dt.datetime.fromisoformat(delivery["next_attempt_at"])
    assert next_attempt > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=50)


async def test_retry_after_is_honoured_on_503(client, app, sender) -> None:
    async with Receiver([Answer(503, headers={"Retry-After": "3600"})]) as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
    [delivery] = await deliveries_of(client, endpoint)
    assert delivery["status"] == "pending" and len(delivery["attempts"]) == 1


async def test_a_redirect_is_not_followed_and_counts_as_a_failure(client, app, sender) -> None:
    answers = [Answer(302, headers={"Location": "http://127.0.0.1:9/elsewhere"})] * 3
    async with Receiver(answers) as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
    [delivery] = await deliveries_of(client, endpoint)
    assert (delivery["status"], "redirect" in delivery["attempts"][0]["error"]) == (
        "failed",
        True,
    )


async def test_after_rotation_both_signatures_verify(client, app, sender) -> None:
    async with Receiver() as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        rotated = await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret")
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
        [request] = await receiver.wait_for(1)
    signatures = request.headers["webhook-signature"].split(" ")
    Webhook(endpoint["secret"]).verify(request.body, request.headers)
    Webhook(rotated.json()["secret"]).verify(request.body, request.headers)
    assert len(signatures) == 2


async def test_the_old_secret_stops_verifying_when_expired_at_once(client, app, sender) -> None:
    async with Receiver() as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret",
            json={"expire_previous_now": True},
        )
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
        [request] = await receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 1


async def test_event_types_filter_what_an_endpoint_receives(client, app, sender) -> None:
    async with Receiver() as receiver:
        endpoint = await create_endpoint(client, url=receiver.url, event_types=["agreement."])
        await create_agreement(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
    types = {delivery["event_type"] for delivery in await deliveries_of(client, endpoint)}
    assert types == {"agreement.created"}


async def test_a_redelivered_event_adds_no_second_delivery(client, app, sender) -> None:
    endpoint = await create_endpoint(client)
    await create_organization(client)
    await fan_out_all(app)
    await fan_out_all(app)
    assert len(await deliveries_of(client, endpoint)) == 1


async def test_an_organization_endpoint_gets_only_its_agreements_events(
    client, app, sender
) -> None:
    mine = await create_organization(client)
    partner = await create_organization(client)
    key = await make_key(app, ["webhooks"], organization_id=uuid.UUID(mine["id"]))
    async with Receiver() as receiver:
        async with client_for(app, key) as bound:
            endpoint = await create_endpoint(bound, url=receiver.url, event_types=["agreement."])
        ours = await create_agreement(client, parties=[mine, partner])
        await create_agreement(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
        [request] = await receiver.wait_for(1)
    payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert payload["data"]["id"] == ours["id"]


async def test_a_manual_retry_resends_with_the_same_webhook_id(client, app, sender) -> None:
    async with Receiver([500, 500, 500, 200]) as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
        [delivery] = await deliveries_of(client, endpoint)
        await client.post(f"/v1/webhook-deliveries/{delivery['id']}/retry")
        await deliver_until_idle(app, sender)
        requests = await receiver.wait_for(4)
    assert len({request.headers["webhook-id"] for request in requests}) == 1


async def test_a_manual_retry_of_a_failed_delivery_can_succeed(client, app, sender) -> None:
    async with Receiver([500, 500, 500, 200]) as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
        [delivery] = await deliveries_of(client, endpoint)
        await client.post(f"/v1/webhook-deliveries/{delivery['id']}/retry")
        await deliver_until_idle(app, sender)
    [delivery] = await deliveries_of(client, endpoint)
    assert (delivery["status"], len(delivery["attempts"])) == ("succeeded", 4)


async def test_recover_resends_failed_deliveries_since_a_time(client, app, sender) -> None:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    async with Receiver([500] * 6) as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
        response = await client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/recover", json={"since": since.isoformat()}
        )
        await deliver_until_idle(app, sender)
    statuses = [delivery["status"] for delivery in await deliveries_of(client, endpoint)]
    assert (response.json()["recovered"], statuses) == (2, ["succeeded", "succeeded"])


async def test_recover_leaves_failures_older_than_since(client, app, sender) -> None:
    async with Receiver([500] * 3) as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
    since = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    response = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/recover", json={"since": since.isoformat()}
    )
    assert response.json()["recovered"] == 0


async def test_a_test_ping_is_delivered_as_webhook_test(client, app, sender) -> None:
    async with Receiver() as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")
        await deliver_until_idle(app, sender)
        [request] = await receiver.wait_for(1)
    assert Webhook(endpoint["secret"]).verify(request.body, request.headers)["type"] == (
        "webhook.test"
    )


async def test_an_endpoint_failing_for_five_days_is_disabled(client, app, sender) -> None:
    async with Receiver([500]) as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        async with app.state.sessionmaker() as session:
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == uuid.UUID(endpoint["id"]))
                .values(failing_since=dt.datetime.now(dt.UTC) - dt.timedelta(days=5, minutes=1))
            )
            await session.commit()
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
    response = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}")
    assert (response.json()["enabled"], response.json()["disabled_reason"]) == (
        False,
        "no successful delivery for 5 days",
    )


async def test_a_success_restarts_the_failure_clock(client, app, sender) -> None:
    async with Receiver([500, 200]) as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, sender)
    async with app.state.sessionmaker() as session:
        failing_since = await session.scalar(
            select(WebhookEndpoint.failing_since).where(
                WebhookEndpoint.id == uuid.UUID(endpoint["id"])
            )
        )
    assert failing_since is None


async def test_a_killed_send_is_sent_again_when_its_lease_ends(client, app, sender) -> None:
    async with Receiver() as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        # A worker claimed it, then died before recording anything: its lease ran out.
        async with app.state.sessionmaker() as session:
            await session.execute(
                update(WebhookDelivery).values(
                    next_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
                )
            )
            await session.commit()
        await deliver_until_idle(app, sender)
        await receiver.wait_for(1)
    [delivery] = await deliveries_of(client, endpoint)
    assert delivery["status"] == "succeeded"


async def test_a_fan_out_hands_its_deliveries_to_the_local_pump_after_commit(
    client, app, settings
) -> None:
    # The pump polls once an hour here: only the hand-over can send in time.
    pump = DeliveryPump(app.state.sessionmaker, settings, interval=3600)
    running = asyncio.create_task(pump.run())
    try:
        await asyncio.wait_for(pump.receiving.wait(), 10)
        async with Receiver() as receiver:
            endpoint = await create_endpoint(client, url=receiver.url)
            await create_organization(client)
            await fan_out_all(app)
            [request] = await receiver.wait_for(1)

            async def delivered() -> list[dict]:
                return await deliveries_of(client, endpoint)

            deliveries = await eventually(
                delivered, lambda items: bool(items) and items[0]["status"] == "succeeded"
            )
    finally:
        pump.stop()
        await asyncio.wait_for(running, 10)
    assert Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert len(deliveries[0]["attempts"]) == 1


async def test_without_a_local_pump_a_fan_out_leaves_its_deliveries_due(client, app) -> None:
    endpoint = await create_endpoint(client, url="http://127.0.0.1:9/hooks")
    await create_organization(client)
    await fan_out_all(app)
    async with app.state.sessionmaker() as session:
        due = (await session.scalars(select(WebhookDelivery.next_attempt_at))).all()
    assert len(due) == 1 and due[0] <= dt.datetime.now(dt.UTC)
    assert (await deliveries_of(client, endpoint))[0]["status"] == "pending"


async def test_a_batch_of_events_fans_out_with_as_many_statements_as_one(client, app) -> None:
    await create_endpoint(client, url="http://127.0.0.1:9/hooks")
    for _ in range(11):
        await create_organization(client)
    async with app.state.sessionmaker() as session:
        events = list(
            (
                await session.scalars(
                    select(OutboxEvent)
                    .where(OutboxEvent.type == "organization.created")
                    .order_by(OutboxEvent.id)
                )
            ).all()
        )
    statements: list[list[str]] = []
    for batch in (events[:1], events[1:]):
        with counting_statements(app) as counted:
            async with app.state.sessionmaker() as session:
                await fan_out_events(session, batch)
                await session.commit()
        statements.append(counted)
    assert len(statements[0]) == len(statements[1])
    async with app.state.sessionmaker() as session:
        delivered = (await session.scalars(select(WebhookDelivery.event_id))).all()
    assert sorted(delivered) == sorted(event.id for event in events)


async def test_a_pump_with_no_room_leaves_new_deliveries_to_polling(client, app, settings) -> None:
    pump = DeliveryPump(app.state.sessionmaker, settings, interval=3600, max_handed_over=0)
    running = asyncio.create_task(pump.run())
    try:
        await asyncio.wait_for(pump.receiving.wait(), 10)
        async with Receiver() as receiver:
            await create_endpoint(client, url=receiver.url)
            await create_organization(client)
            await fan_out_all(app)
            async with app.state.sessionmaker() as session:
                [due] = (await session.scalars(select(WebhookDelivery.next_attempt_at))).all()
            pump.wake()
            await receiver.wait_for(1)
    finally:
        pump.stop()
        await asyncio.wait_for(running, 10)
    assert due <= dt.datetime.now(dt.UTC)
