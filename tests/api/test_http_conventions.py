from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from shared.models import AuditEntry, Organization, OutboxEvent
from shared.organizations import service as organization_service
from tests.conftest import client_for
from tests.factories import create_agreement, create_organization, organization_body


async def test_patch_without_if_match_answers_428(client) -> None:
    organization = await create_organization(client)

    response = await client.patch(f"/v1/organizations/{organization['id']}", json={"name": "X"})

    assert response.status_code == 428


async def test_stale_if_match_answers_412_and_changes_nothing(client) -> None:
    organization = await create_organization(client)
    url = f"/v1/organizations/{organization['id']}"
    await client.patch(url, json={"name": "First"}, headers={"If-Match": '"1"'})

    response = await client.patch(url, json={"name": "Second"}, headers={"If-Match": '"1"'})

    assert response.status_code == 412
    assert (await client.get(url)).json()["name"] == "First"


async def test_delete_needs_if_match(client) -> None:
    agreement = await create_agreement(client)

    response = await client.delete(f"/v1/agreements/{agreement['id']}")

    assert response.status_code == 428


async def test_if_match_star_and_lists_are_understood(client) -> None:
    organization = await create_organization(client)
    url = f"/v1/organizations/{organization['id']}"

    star = await client.patch(url, json={"name": "A"}, headers={"If-Match": "*"})
    listed = await client.patch(url, json={"name": "B"}, headers={"If-Match": '"9", "2"'})
    weak = await client.patch(url, json={"name": "C"}, headers={"If-Match": 'W/"3"'})

    assert star.status_code == 200
    assert listed.status_code == 200
    assert weak.status_code == 412


async def test_get_serves_the_etag_of_the_current_version(client) -> None:
    organization = await create_organization(client)
    url = f"/v1/organizations/{organization['id']}"
    await client.patch(url, json={"name": "A"}, headers={"If-Match": '"1"'})

    response = await client.get(url)

    assert response.headers["etag"] == '"2"'


async def test_request_id_is_echoed_or_generated(client) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "trace-123"})
    generated = await client.get("/healthz")

    assert echoed.headers["x-request-id"] == "trace-123"
    assert len(generated.headers["x-request-id"]) >= 16


async def test_unknown_route_and_wrong_method_answer_problems(client) -> None:
    missing = await client.get("/v1/nothing-here")
    wrong_method = await client.put("/v1/organizations")

    assert missing.status_code == 404
    assert wrong_method.status_code == 405
    assert missing.headers["content-type"] == "application/problem+json"
    assert wrong_method.headers["content-type"] == "application/problem+json"


async def test_malformed_json_answers_400(client) -> None:
    response = await client.post(
        "/v1/organizations", content=b'{"name": ', headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["type"].endswith("malformed-json")


async def test_oversized_body_answers_413(client, app) -> None:
    limit = app.state.settings.max_body_bytes
    body = organization_body(name="x" * (limit + 10))

    response = await client.post("/v1/organizations", json=body)

    assert response.status_code == 413


async def test_security_headers_are_set(client) -> None:
    response = await client.get("/v1/organizations")

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


async def test_health_readiness_and_metrics_need_no_key(app) -> None:
    async with client_for(app, None) as anonymous:
        health = await anonymous.get("/healthz")
        ready = await anonymous.get("/readyz")
        metrics = await anonymous.get("/metrics")

    assert health.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": True, "broker": True}}
    assert "accords_http_requests_total" in metrics.text


async def test_readiness_fails_when_the_broker_is_unreachable(app) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"broker_url": "amqp://guest:guest@127.0.0.1:1/"}
    )
    async with client_for(app, None) as anonymous:
        response = await anonymous.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"] is False


async def test_every_change_writes_one_event_and_one_audit_row(client, app) -> None:
    organization = await create_organization(client)
    url = f"/v1/organizations/{organization['id']}"
    await client.patch(url, json={"name": "Renamed"}, headers={"If-Match": '"1"'})
    await client.delete(url, headers={"If-Match": '"2"'})

    async with app.state.sessionmaker() as session:
        events = (await session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))).all()
        audits = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.entity_type == "organization")
        )

    assert [event.type for event in events] == [
        "organization.created",
        "organization.updated",
        "organization.deleted",
    ]
    assert [event.sequence for event in events] == [1, 2, 3]
    assert events[1].data["name"] == "Renamed"
    assert audits == 3


async def test_status_change_event_carries_previous_status(client, app) -> None:
    agreement = await create_agreement(client)
    await client.post(f"/v1/agreements/{agreement['id']}/transitions", json={"to": "negotiation"})

    async with app.state.sessionmaker() as session:
        event = await session.scalar(
            select(OutboxEvent).where(OutboxEvent.type == "agreement.status_changed")
        )

    assert event.data["previous_status"] == "draft"
    assert event.data["status"] == "negotiation"
    assert event.sequence == 2


async def test_a_request_failing_midway_leaves_neither_change_nor_event(
    client, app, monkeypatch
) -> None:
    real_record_change = organization_service.record_change

    async def record_then_fail(*args, **kwargs):
        await real_record_change(*args, **kwargs)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(organization_service, "record_change", record_then_fail)

    response = await client.post("/v1/organizations", json=organization_body(name="Doomed"))

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "disk on fire" not in response.text
    assert "Traceback" not in response.text
    async with app.state.sessionmaker() as session:
        organizations = await session.scalar(select(func.count()).select_from(Organization))
        events = await session.scalar(select(func.count()).select_from(OutboxEvent))
    assert (organizations, events) == (0, 0)


async def test_sequences_stay_gapless_under_concurrent_changes(client, app, backend) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    agreement = await create_agreement(client)
    url = f"/v1/agreements/{agreement['id']}"

    async def rename(index: int) -> int:
        response = await client.patch(
            url, json={"title": f"Title {index}"}, headers={"If-Match": "*"}
        )
        return response.status_code

    statuses = await asyncio.gather(*(rename(index) for index in range(10)))

    async with app.state.sessionmaker() as session:
        sequences = (
            await session.scalars(
                select(OutboxEvent.sequence)
                .where(OutboxEvent.aggregate_id == agreement["id"])
                .order_by(OutboxEvent.sequence)
            )
        ).all()
    assert statuses.count(200) == 10
    assert list(sequences) == list(range(1, 12))


async def test_an_unknown_query_parameter_answers_422(client) -> None:
    response = await client.get("/v1/agreements", params={"staus": "active"})

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"loc": ["query", "staus"], "msg": "unknown query parameter"}
    ]


async def test_a_query_parameter_given_twice_answers_422(client) -> None:
    response = await client.get("/v1/events?type=agreement.&type=milestone.")

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"loc": ["query", "type"], "msg": "given more than once; takes one value"}
    ]


async def test_a_nul_character_in_a_query_parameter_answers_422(client) -> None:
    response = await client.get("/v1/agreements", params={"q": "a\x00b"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "q"]
