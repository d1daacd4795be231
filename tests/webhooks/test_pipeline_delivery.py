"""Webhooks through the embedded pipeline: a write reaches the receiver with no
hand-driving (consumer fan-out, then the worker's delivery pump)."""

from __future__ import annotations

from standardwebhooks import Webhook

from tests.factories import create_organization
from tests.webhooks.factories import create_endpoint
from tests.webhooks.receiver import Receiver
from tests.worker.conftest import eventually, piped_client, pipeline  # noqa: F401 - fixtures


async def test_a_committed_change_is_delivered_by_the_worker(piped_client) -> None:  # noqa: F811
    async with Receiver() as receiver:
        endpoint = await create_endpoint(piped_client, url=receiver.url)
        organization = await create_organization(piped_client)
        [request] = await receiver.wait_for(1)
    payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert (payload["type"], payload["data"]["id"]) == ("organization.created", organization["id"])


async def test_the_delivery_log_shows_success_after_the_worker_sent_it(
    piped_client,  # noqa: F811
) -> None:
    async with Receiver([500, 200]) as receiver:
        endpoint = await create_endpoint(piped_client, url=receiver.url)
        await create_organization(piped_client)
        await receiver.wait_for(2)

        async def log() -> list[dict]:
            response = await piped_client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")
            return response.json()["items"]

        deliveries = await eventually(
            log, lambda items: bool(items) and items[0]["status"] == "succeeded"
        )
    assert len(deliveries[0]["attempts"]) == 2
