"""Endpoints whose url points at a non-public address are refused at creation."""

from __future__ import annotations

import pytest

from tests.webhooks.factories import create_endpoint, patch_endpoint


@pytest.fixture
def allow_private_targets() -> bool:
    return False


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://10.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hooks",
        "https://localhost/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://100.64.1.1/hooks",
    ],
)
async def test_a_non_public_target_is_refused_with_422(client, url: str) -> None:
    response = await client.post("/v1/webhook-endpoints", json={"url": url})
    assert response.status_code == 422, response.text


async def test_the_refusal_names_the_url_field(client) -> None:
    response = await client.post("/v1/webhook-endpoints", json={"url": "https://10.0.0.1/"})
    assert response.json()["errors"][0]["loc"] == ["body", "url"]


async def test_plain_http_is_refused(client) -> None:
    response = await client.post("/v1/webhook-endpoints", json={"url": "http://93.184.215.14/"})
    assert response.status_code == 422


async def test_a_public_address_is_accepted(client) -> None:
    endpoint = await create_endpoint(client, url="https://93.184.215.14/hooks")
    assert endpoint["url"] == "https://93.184.215.14/hooks"


async def test_changing_the_url_to_a_private_target_is_refused(client) -> None:
    endpoint = await create_endpoint(client, url="https://93.184.215.14/hooks")
    response = await patch_endpoint(client, endpoint["id"], url="https://192.168.0.10/")
    assert response.status_code == 422
