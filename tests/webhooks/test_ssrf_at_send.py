"""The SSRF guard at send time: names are resolved, checked, and the connection
goes to the checked address (so DNS rebinding cannot slip through)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update

from services.worker.sender import WebhookSender
from shared.models import WebhookEndpoint
from shared.settings import Settings
from tests.factories import create_organization
from tests.webhooks.factories import create_endpoint
from tests.webhooks.helpers import deliver_until_idle, fan_out_all
from tests.webhooks.receiver import Receiver


@pytest.fixture
async def guarded_sender(settings: Settings) -> AsyncIterator[WebhookSender]:
    """A sender with private targets refused (the endpoints were created while allowed)."""
    sender = WebhookSender(settings.model_copy(update={"webhook_allow_private_targets": False}))
    try:
        yield sender
    finally:
        await sender.aclose()


@pytest.fixture
async def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Names the running loop resolves to chosen addresses (other names as usual)."""
    names: dict[str, str] = {}
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host in names:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (names[host], port))]
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return names


async def point_endpoint_at(app, endpoint_id: str, url: str) -> None:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == uuid.UUID(endpoint_id))
            .values(url=url)
        )
        await session.commit()


async def first_attempt(client, endpoint: dict) -> dict:  # type: ignore[no-untyped-def]
    response = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")
    return response.json()["items"][0]["attempts"][0]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hooks",
        "http://10.0.0.1:{port}/hooks",
        "http://169.254.169.254:{port}/latest/meta-data/",
        "http://[::1]:{port}/hooks",
        "http://localhost:{port}/hooks",
    ],
)
async def test_a_non_public_target_is_refused_at_send_time(
    client, app, guarded_sender, url: str
) -> None:
    async with Receiver() as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await point_endpoint_at(app, endpoint["id"], url.format(port=receiver.port))
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, guarded_sender)
        attempt = await first_attempt(client, endpoint)
    assert (attempt["status_code"], attempt["error"].startswith("refused")) == (None, True)


async def test_a_refused_target_receives_nothing(client, app, guarded_sender) -> None:
    async with Receiver() as receiver:
        await create_endpoint(client, url=receiver.url)
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, guarded_sender)
    assert receiver.requests == []


async def test_a_name_resolving_to_a_private_address_is_refused(
    client, app, guarded_sender, fake_dns
) -> None:
    fake_dns["hooks.partner.test"] = "10.1.2.3"
    async with Receiver() as receiver:
        endpoint = await create_endpoint(client, url=receiver.url)
        await point_endpoint_at(app, endpoint["id"], "http://hooks.partner.test/hooks")
        await create_organization(client)
        await fan_out_all(app)
        await deliver_until_idle(app, guarded_sender)
        attempt = await first_attempt(client, endpoint)
    assert "resolves to 10.1.2.3" in attempt["error"]


async def test_the_connection_goes_to_the_address_that_was_checked(
    client, app, fake_dns, settings
) -> None:
    # The name resolves (once, at connect time) to the receiver's address;
    # the request carries the name in Host while going to that address.
    fake_dns["hooks.partner.test"] = "127.0.0.1"
    sender = WebhookSender(settings)
    try:
        async with Receiver() as receiver:
            endpoint = await create_endpoint(client, url=receiver.url)
            await point_endpoint_at(
                app, endpoint["id"], f"http://hooks.partner.test:{receiver.port}/hooks"
            )
            await create_organization(client)
            await fan_out_all(app)
            await deliver_until_idle(app, sender)
            [request] = await receiver.wait_for(1)
    finally:
        await sender.aclose()
    assert request.headers["host"] == f"hooks.partner.test:{receiver.port}"
