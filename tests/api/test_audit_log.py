from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from shared.models import AuditEntry
from tests.api.tracking_factories import engagement_body, initiative_body, research_body
from tests.conftest import client_for, make_key
from tests.factories import agreement_body, organization_body


class Mutations:
    """Sends mutations, each with its own request id, and remembers them."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.request_ids: list[tuple[str, str]] = []

    async def send(self, method: str, url: str, json: Any = None, *, match: bool = False) -> Any:
        request_id = f"audit-{len(self.request_ids)}-{uuid.uuid4().hex[:8]}"
        headers = {"X-Request-ID": request_id}
        if match:
            headers["If-Match"] = "*"
        response = await self.client.request(method, url, json=json, headers=headers)
        assert response.status_code in (200, 201, 204), (method, url, response.text)
        self.request_ids.append((request_id, f"{method} {url}"))
        return response.json() if response.content else None


async def _every_mutation(mutations: Mutations) -> None:
    send = mutations.send
    a = await send("POST", "/v1/organizations", organization_body())
    b = await send("POST", "/v1/organizations", organization_body(country="CN"))
    spare = await send("POST", "/v1/organizations", organization_body())
    await send("PATCH", f"/v1/organizations/{a['id']}", {"acronym": "STZA"}, match=True)
    await send("DELETE", f"/v1/organizations/{spare['id']}", match=True)

    agreement = await send(
        "POST", "/v1/agreements", agreement_body([a["id"], b["id"]], signed_on="2023-09-04")
    )
    await send("PATCH", f"/v1/agreements/{agreement['id']}", {"title": "MoU"}, match=True)
    for target in ("negotiation", "signed", "active"):
        await send("POST", f"/v1/agreements/{agreement['id']}/transitions", {"to": target})
    draft = await send("POST", "/v1/agreements", agreement_body([a["id"], b["id"]]))
    await send("DELETE", f"/v1/agreements/{draft['id']}", match=True)

    initiative = await send(
        "POST", f"/v1/agreements/{agreement['id']}/initiatives", initiative_body(agreement)
    )
    await send("PATCH", f"/v1/initiatives/{initiative['id']}", {"title": "Training"}, match=True)
    await send("POST", f"/v1/initiatives/{initiative['id']}/transitions", {"to": "in_progress"})
    milestone = await send(
        "POST",
        f"/v1/initiatives/{initiative['id']}/milestones",
        {"title": "Curriculum", "due_on": "2031-01-31"},
    )
    await send("PATCH", f"/v1/milestones/{milestone['id']}", {"title": "Syllabus"}, match=True)
    await send("DELETE", f"/v1/milestones/{milestone['id']}", match=True)
    spare_initiative = await send(
        "POST", f"/v1/agreements/{agreement['id']}/initiatives", initiative_body(agreement)
    )
    await send("DELETE", f"/v1/initiatives/{spare_initiative['id']}", match=True)

    engagement = await send("POST", "/v1/engagements", engagement_body(agreement))
    await send("PATCH", f"/v1/engagements/{engagement['id']}", {"title": "Visit"}, match=True)
    await send("DELETE", f"/v1/engagements/{engagement['id']}", match=True)

    research = await send("POST", "/v1/research-collaborations", research_body([a["id"], b["id"]]))
    await send(
        "PATCH", f"/v1/research-collaborations/{research['id']}", {"title": "Zones"}, match=True
    )
    await send(
        "POST",
        f"/v1/research-collaborations/{research['id']}/outputs",
        {"kind": "report", "title": "Zone planning"},
    )
    await send("DELETE", f"/v1/research-collaborations/{research['id']}", match=True)

    endpoint = await send(
        "POST", "/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/hooks", "description": "x"}
    )
    await send("PATCH", f"/v1/webhook-endpoints/{endpoint['id']}", {"description": "y"}, match=True)
    await send("POST", f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret")
    await send("DELETE", f"/v1/webhook-endpoints/{endpoint['id']}", match=True)

    key = await send("POST", "/v1/api-keys", {"name": "partner", "scopes": ["read"]})
    await send("DELETE", f"/v1/api-keys/{key['id']}")


@pytest.fixture
def settings(database_url: str):  # type: ignore[no-untyped-def]
    from shared.settings import Settings

    return Settings(
        database_url=database_url,
        log_format="console",
        log_level="warning",
        environment="test",
        webhook_allow_private_targets=True,
    )


async def test_every_mutation_leaves_exactly_one_audit_row(client, app) -> None:
    mutations = Mutations(client)
    await _every_mutation(mutations)
    async with app.state.sessionmaker() as session:
        entries = (await session.scalars(select(AuditEntry))).all()
    per_request = Counter(entry.request_id for entry in entries)

    wrong = {
        label: per_request[request_id]
        for request_id, label in mutations.request_ids
        if per_request[request_id] != 1
    }
    assert wrong == {}


async def test_every_audit_row_names_its_key_and_request(client, app) -> None:
    await _every_mutation(Mutations(client))
    async with app.state.sessionmaker() as session:
        entries = (await session.scalars(select(AuditEntry))).all()
    # The fixture's own admin key was created outside any request.
    requested = [entry for entry in entries if entry.request_id is not None]

    assert len(requested) == len(entries) - 1
    assert all(entry.api_key_id is not None for entry in requested)


async def test_audit_log_lists_changes_oldest_first(client) -> None:
    first = (await client.post("/v1/organizations", json=organization_body())).json()
    second = (await client.post("/v1/organizations", json=organization_body())).json()

    listed = await client.get("/v1/audit-log", params={"entity_type": "organization"})

    assert listed.status_code == 200
    assert [entry["entity_id"] for entry in listed.json()["items"]] == [first["id"], second["id"]]


async def test_audit_entry_carries_who_what_when_and_before_after(client) -> None:
    organization = (await client.post("/v1/organizations", json=organization_body())).json()
    await client.patch(
        f"/v1/organizations/{organization['id']}",
        json={"acronym": "NEW"},
        headers={"If-Match": '"1"', "X-Request-ID": "req-42"},
    )

    listed = await client.get("/v1/audit-log", params={"entity_id": organization["id"]})
    update = listed.json()["items"][-1]

    assert update["action"] == "updated"
    assert update["request_id"] == "req-42"
    assert update["api_key_id"] is not None
    assert update["at"]
    assert update["before"]["acronym"] == organization["acronym"]
    assert update["after"]["acronym"] == "NEW"


async def test_audit_log_filters_by_api_key(client, app) -> None:
    writer_key = await make_key(app, ["write"])
    async with client_for(app, writer_key) as writer:
        created = (await writer.post("/v1/organizations", json=organization_body())).json()
    await client.post("/v1/organizations", json=organization_body())
    entry = (await client.get("/v1/audit-log", params={"entity_id": created["id"]})).json()

    listed = await client.get(
        "/v1/audit-log", params={"api_key_id": entry["items"][0]["api_key_id"]}
    )

    assert [item["entity_id"] for item in listed.json()["items"]] == [created["id"]]


async def test_audit_log_pages_with_a_cursor(client) -> None:
    for _ in range(3):
        await client.post("/v1/organizations", json=organization_body())

    first = (await client.get("/v1/audit-log", params={"limit": 2})).json()
    second = (
        await client.get("/v1/audit-log", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()

    seen = [item["id"] for item in first["items"] + second["items"]]
    assert len(seen) == len(set(seen)) == 4
    assert second["next_cursor"] is None


async def test_audit_log_is_for_admins_only(app) -> None:
    async with client_for(app, await make_key(app, ["read", "write", "webhooks"])) as strong:
        response = await strong.get("/v1/audit-log")

    assert response.status_code == 403


async def test_audit_log_offers_no_way_to_change_it(client) -> None:
    entry = (await client.get("/v1/audit-log")).json()["items"][0]

    patched = await client.patch(f"/v1/audit-log/{entry['id']}", json={})
    deleted = await client.delete(f"/v1/audit-log/{entry['id']}")

    assert patched.status_code in (404, 405)
    assert deleted.status_code in (404, 405)


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"]
)
async def test_postgresql_refuses_to_rewrite_the_audit_log(client, app, backend, statement) -> None:
    if backend != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's")
    await client.post("/v1/organizations", json=organization_body())

    async with app.state.engine.connect() as connection:
        with pytest.raises(DBAPIError, match="append-only"):
            await connection.execute(text(statement))
