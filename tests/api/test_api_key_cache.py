"""Api keys cached per process on PostgreSQL, forgotten as soon as any key changes."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from services.api.app import create_app
from tests.conftest import client_for, make_key

pytestmark = pytest.mark.postgres


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.fixture
async def other_process(settings, engine):  # type: ignore[no-untyped-def]
    """A second API instance on the same database: its own pool, cache and listener."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        await _listening(application)
        yield application


async def _listening(app) -> None:  # type: ignore[no-untyped-def]
    await asyncio.wait_for(app.state.api_key_listener.listening.wait(), timeout=10)


async def _notified(app) -> None:  # type: ignore[no-untyped-def]
    # The notification travels through PostgreSQL to the listening connection.
    await asyncio.wait_for(app.state.api_key_listener.notified.wait(), timeout=10)


async def test_a_key_is_looked_up_once_per_process(app) -> None:
    await _listening(app)
    async with client_for(app, await make_key(app, ["read"])) as reader:
        for _ in range(3):
            assert (await reader.get("/v1/organizations")).status_code == 200

    assert len(app.state.api_key_cache) == 1


async def test_deleted_key_fails_on_its_next_request_to_another_process(
    client, app, other_process
) -> None:
    created = (await client.post("/v1/api-keys", json={"name": "temp", "scopes": ["read"]})).json()
    async with client_for(other_process, created["key"]) as elsewhere:
        assert (await elsewhere.get("/v1/organizations")).status_code == 200
        assert len(other_process.state.api_key_cache) == 1

        other_process.state.api_key_listener.notified.clear()
        deleted = await client.delete(f"/v1/api-keys/{created['id']}")
        await _notified(other_process)

        assert deleted.status_code == 204
        assert (await elsewhere.get("/v1/organizations")).status_code == 401


async def test_a_key_deleted_outside_the_api_is_forgotten(app, engine) -> None:
    await _listening(app)
    key = await make_key(app, ["read"])
    async with client_for(app, key) as reader:
        assert (await reader.get("/v1/organizations")).status_code == 200

        app.state.api_key_listener.notified.clear()
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM api_keys"))
        await _notified(app)

        assert (await reader.get("/v1/organizations")).status_code == 401


async def test_nothing_is_cached_while_the_listener_is_down(app) -> None:
    await _listening(app)
    await app.state.api_key_listener.aclose()
    async with client_for(app, await make_key(app, ["read"])) as reader:
        assert (await reader.get("/v1/organizations")).status_code == 200

    assert len(app.state.api_key_cache) == 0
