"""The fast read path answers exactly what the FastAPI route answers (PostgreSQL)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import client_for, make_key
from tests.factories import create_agreement, create_organization

pytestmark = pytest.mark.postgres

# Per-request values: the request id, and the remaining quota.
_VARYING_HEADERS = {"x-request-id", "ratelimit"}


@pytest.fixture
def backend() -> str:
    return "postgresql"


async def _both_ways(app, client: httpx.AsyncClient, path: str) -> list[httpx.Response]:  # type: ignore[no-untyped-def]
    answers = []
    for fast in (True, False):
        app.state.fast_reads = fast
        await client.get(path)  # the first request of a key fills the key cache
        answers.append(await client.get(path))
    app.state.fast_reads = True
    return answers


def _comparable(response: httpx.Response) -> tuple[int, dict[str, str], set[str], bytes]:
    headers = {
        name: value for name, value in response.headers.items() if name not in _VARYING_HEADERS
    }
    return response.status_code, headers, set(response.headers), response.content


@pytest.fixture
async def world(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    ours = await create_organization(client)
    theirs = await create_organization(client)
    partner = await create_organization(client)
    return {
        "ours": (await create_agreement(client, [ours, partner]))["id"],
        "theirs": (await create_agreement(client, [theirs, partner]))["id"],
        "organization": ours["id"],
    }


@pytest.mark.parametrize("target", ["ours", "theirs", "missing"])
@pytest.mark.parametrize("scopes", [["read"], ["write"], ["webhooks"], ["admin"], ["bound"]])
async def test_both_paths_answer_alike(app, world, target, scopes) -> None:
    organization_id = None
    if scopes == ["bound"]:
        scopes, organization_id = ["read"], uuid.UUID(world["organization"])
    key = await make_key(app, scopes, organization_id=organization_id)
    agreement_id = world.get(target, str(uuid.uuid4()))
    async with client_for(app, key) as caller:
        fast, routed = await _both_ways(app, caller, f"/v1/agreements/{agreement_id}")

    assert _comparable(fast) == _comparable(routed)


@pytest.mark.parametrize("shape", ["{}", "{}?limit=1", "{}/", "{}0", "{{{}}}", "upper"])
async def test_odd_requests_answer_alike(app, client, world, shape) -> None:
    agreement_id = world["ours"]
    written = agreement_id.upper() if shape == "upper" else shape.format(agreement_id)
    fast, routed = await _both_ways(app, client, f"/v1/agreements/{written}")

    assert _comparable(fast) == _comparable(routed)


async def test_unknown_and_missing_keys_answer_alike(app, world) -> None:
    for key in (None, "acc_unknown"):
        async with client_for(app, key) as caller:
            fast, routed = await _both_ways(app, caller, f"/v1/agreements/{world['ours']}")

        assert _comparable(fast) == _comparable(routed)


async def test_a_known_key_reads_without_a_session(app, client, world) -> None:
    path = f"/v1/agreements/{world['ours']}"
    await client.get(path)

    def no_sessions() -> None:
        raise AssertionError("the fast path opened a session")

    app.state.read_sessionmaker = no_sessions
    response = await client.get(path)

    assert response.status_code == 200
    assert response.json()["id"] == world["ours"]
