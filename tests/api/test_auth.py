from __future__ import annotations

import uuid

import pytest

from tests.conftest import client_for, make_key
from tests.factories import organization_body


async def test_missing_key_answers_401_problem(app) -> None:
    async with client_for(app, None) as anonymous:
        response = await anonymous.get("/v1/organizations")

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer acc_unknown"])
async def test_malformed_or_unknown_key_answers_401(app, header) -> None:
    async with client_for(app, None) as anonymous:
        response = await anonymous.get("/v1/organizations", headers={"Authorization": header})

    assert response.status_code == 401


async def test_read_key_cannot_write(app) -> None:
    async with client_for(app, await make_key(app, ["read"])) as reader:
        listed = await reader.get("/v1/organizations")
        created = await reader.post("/v1/organizations", json=organization_body())

    assert listed.status_code == 200
    assert created.status_code == 403
    assert "write" in created.json()["detail"]


async def test_write_key_can_read_what_it_writes(app) -> None:
    async with client_for(app, await make_key(app, ["write"])) as writer:
        created = await writer.post("/v1/organizations", json=organization_body())
        fetched = await writer.get(created.headers["location"])

    assert created.status_code == 201
    assert fetched.status_code == 200


async def test_only_admin_manages_api_keys(app) -> None:
    async with client_for(app, await make_key(app, ["read", "write", "webhooks"])) as strong:
        response = await strong.get("/v1/api-keys")

    assert response.status_code == 403


async def test_created_key_is_shown_once_and_works(client, app) -> None:
    created = await client.post("/v1/api-keys", json={"name": "partner", "scopes": ["read"]})
    listed = await client.get("/v1/api-keys")

    assert created.status_code == 201
    key = created.json()["key"]
    assert all("key" not in entry for entry in listed.json()["items"])
    async with client_for(app, key) as partner:
        assert (await partner.get("/v1/organizations")).status_code == 200


async def test_revoked_key_fails_on_the_next_request(client, app) -> None:
    created = (await client.post("/v1/api-keys", json={"name": "temp", "scopes": ["read"]})).json()
    async with client_for(app, created["key"]) as temporary:
        assert (await temporary.get("/v1/organizations")).status_code == 200

        deleted = await client.delete(f"/v1/api-keys/{created['id']}")

        assert deleted.status_code == 204
        assert (await temporary.get("/v1/organizations")).status_code == 401


async def test_key_for_unknown_organization_answers_422(client) -> None:
    response = await client.post(
        "/v1/api-keys",
        json={"name": "x", "scopes": ["read"], "organization_id": str(uuid.uuid4())},
    )

    assert response.status_code == 422


async def test_unknown_scope_answers_422(client) -> None:
    response = await client.post("/v1/api-keys", json={"name": "x", "scopes": ["root"]})

    assert response.status_code == 422


async def test_keys_are_stored_only_as_hashes(client, app) -> None:
    from sqlalchemy import select

    from shared.models import ApiKey

    key = (await client.post("/v1/api-keys", json={"name": "x", "scopes": ["read"]})).json()["key"]
    async with app.state.sessionmaker() as session:
        stored = (await session.execute(select(ApiKey.key_hash, ApiKey.key_prefix))).all()

    assert all(key not in (row.key_hash, row.key_prefix) for row in stored)
    assert key[:10] in {row.key_prefix for row in stored}
