"""The webhook endpoint resource: `/v1/webhook-endpoints`."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from shared.models import AuditEntry, OutboxEvent, WebhookEndpoint
from tests.conftest import client_for, make_key
from tests.factories import create_organization
from tests.webhooks.factories import create_endpoint, patch_endpoint


async def test_create_answers_201_with_location_and_a_whsec_secret(client) -> None:
    response = await client.post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/h"})
    body = response.json()
    assert (response.status_code, response.headers["Location"], body["secret"][:6]) == (
        201,
        f"/v1/webhook-endpoints/{body['id']}",
        "whsec_",
    )


async def test_get_never_returns_the_secret(client) -> None:
    endpoint = await create_endpoint(client)
    response = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}")
    assert "secret" not in response.json()


async def test_list_never_returns_secrets(client) -> None:
    await create_endpoint(client)
    response = await client.get("/v1/webhook-endpoints")
    assert all("secret" not in item for item in response.json()["items"])


async def test_the_secret_is_not_stored_in_clear(client, app) -> None:
    endpoint = await create_endpoint(client)
    async with app.state.sessionmaker() as session:
        sealed = await session.scalar(
            select(WebhookEndpoint.secret_sealed).where(
                WebhookEndpoint.id == uuid.UUID(endpoint["id"])
            )
        )
    assert endpoint["secret"] not in sealed and endpoint["secret"][6:] not in sealed


async def test_the_audit_log_never_holds_the_secret(client, app) -> None:
    endpoint = await create_endpoint(client)
    rotated = await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret")
    async with app.state.sessionmaker() as session:
        entries = (await session.scalars(select(AuditEntry))).all()
    dumped = repr([(entry.before, entry.after) for entry in entries])
    assert endpoint["secret"] not in dumped and rotated.json()["secret"] not in dumped


async def test_managing_endpoints_needs_the_webhooks_scope(app) -> None:
    key = await make_key(app, ["read", "write"])
    async with client_for(app, key) as writer:
        response = await writer.post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/"})
    assert response.status_code == 403


async def test_a_webhooks_key_can_create_an_endpoint(app) -> None:
    key = await make_key(app, ["webhooks"])
    async with client_for(app, key) as manager:
        response = await manager.post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/"})
    assert response.status_code == 201


async def test_an_unknown_event_type_is_refused(client) -> None:
    response = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/", "event_types": ["agreement.exploded"]},
    )
    assert response.status_code == 422


async def test_a_prefix_of_known_event_types_is_accepted(client) -> None:
    endpoint = await create_endpoint(client, event_types=["agreement.", "milestone.overdue"])
    assert endpoint["event_types"] == ["agreement.", "milestone.overdue"]


async def test_patch_needs_if_match(client) -> None:
    endpoint = await create_endpoint(client)
    response = await client.patch(
        f"/v1/webhook-endpoints/{endpoint['id']}", json={"description": "x"}
    )
    assert response.status_code == 428


async def test_patch_with_a_stale_etag_answers_412(client) -> None:
    endpoint = await create_endpoint(client)
    await patch_endpoint(client, endpoint["id"], description="first")
    response = await client.patch(
        f"/v1/webhook-endpoints/{endpoint['id']}",
        json={"description": "second"},
        headers={"If-Match": '"1"'},
    )
    assert response.status_code == 412


async def test_patch_changes_the_event_types_and_the_version(client) -> None:
    endpoint = await create_endpoint(client)
    response = await patch_endpoint(client, endpoint["id"], event_types=["organization."])
    assert (response.json()["event_types"], response.json()["version"]) == (["organization."], 2)


async def test_disabling_an_endpoint_emits_webhook_endpoint_disabled(client, app) -> None:
    endpoint = await create_endpoint(client)
    await patch_endpoint(client, endpoint["id"], enabled=False)
    async with app.state.sessionmaker() as session:
        types = (await session.scalars(select(OutboxEvent.type))).all()
    assert "webhook_endpoint.disabled" in types


async def test_enabling_an_endpoint_clears_its_disabled_reason(client) -> None:
    endpoint = await create_endpoint(client)
    await patch_endpoint(client, endpoint["id"], enabled=False)
    response = await patch_endpoint(client, endpoint["id"], enabled=True)
    assert (response.json()["enabled"], response.json()["disabled_reason"]) == (True, None)


async def test_delete_answers_204_and_the_endpoint_is_gone(client) -> None:
    endpoint = await create_endpoint(client)
    current = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}")
    await client.delete(
        f"/v1/webhook-endpoints/{endpoint['id']}", headers={"If-Match": current.headers["ETag"]}
    )
    response = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}")
    assert response.status_code == 404


async def test_rotation_returns_a_new_secret(client) -> None:
    endpoint = await create_endpoint(client)
    response = await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret")
    assert response.json()["secret"] not in (None, endpoint["secret"])


async def test_rotation_changes_the_etag(client) -> None:
    endpoint = await create_endpoint(client)
    response = await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret")
    assert response.headers["ETag"] == '"2"'


async def test_a_test_ping_queues_a_webhook_test_delivery(client) -> None:
    endpoint = await create_endpoint(client)
    await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")
    response = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")
    [delivery] = response.json()["items"]
    assert (delivery["event_type"], delivery["status"]) == ("webhook.test", "pending")


async def test_an_organization_key_does_not_see_other_endpoints(client, app) -> None:
    endpoint = await create_endpoint(client)
    organization = await create_organization(client)
    key = await make_key(app, ["webhooks"], organization_id=uuid.UUID(organization["id"]))
    async with client_for(app, key) as bound:
        response = await bound.get(f"/v1/webhook-endpoints/{endpoint['id']}")
    assert response.status_code == 404


async def test_an_organization_key_lists_only_its_organizations_endpoints(client, app) -> None:
    await create_endpoint(client)
    organization = await create_organization(client)
    key = await make_key(app, ["webhooks"], organization_id=uuid.UUID(organization["id"]))
    async with client_for(app, key) as bound:
        own = await create_endpoint(bound)
        response = await bound.get("/v1/webhook-endpoints")
    assert [item["id"] for item in response.json()["items"]] == [own["id"]]


async def test_an_endpoint_created_by_an_organization_key_is_bound_to_it(client, app) -> None:
    organization = await create_organization(client)
    key = await make_key(app, ["webhooks"], organization_id=uuid.UUID(organization["id"]))
    async with client_for(app, key) as bound:
        endpoint = await create_endpoint(bound)
    assert endpoint["organization_id"] == organization["id"]


async def test_retrying_an_unknown_delivery_answers_404(client) -> None:
    response = await client.post(f"/v1/webhook-deliveries/{uuid.uuid4()}/retry")
    assert response.status_code == 404
