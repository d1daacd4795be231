from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import func, select, text, update

from services.api.idempotency import advisory_lock_id, prune_idempotency_records
from shared.models import ApiKey, IdempotencyRecord, Organization
from tests.conftest import client_for, make_key
from tests.factories import create_agreement, organization_body
from tests.servers import POSTGRES


async def _organization_count(app) -> int:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(Organization))


async def test_retried_post_replays_status_body_and_headers(client) -> None:
    body = organization_body()
    first = await client.post("/v1/organizations", json=body, headers={"Idempotency-Key": "k-1"})
    again = await client.post("/v1/organizations", json=body, headers={"Idempotency-Key": "k-1"})

    assert first.status_code == 201
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"


async def test_retried_post_creates_one_resource(client, app) -> None:
    body = organization_body()
    for _ in range(3):
        await client.post("/v1/organizations", json=body, headers={"Idempotency-Key": "once"})

    assert await _organization_count(app) == 1


async def test_same_key_with_another_body_answers_422(client) -> None:
    await client.post(
        "/v1/organizations", json=organization_body(), headers={"Idempotency-Key": "k-2"}
    )
    response = await client.post(
        "/v1/organizations", json=organization_body(), headers={"Idempotency-Key": "k-2"}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("idempotency-key-reused")


async def test_same_key_on_another_path_answers_422(client) -> None:
    agreement = await create_agreement(client)
    await client.post(
        "/v1/organizations", json=organization_body(), headers={"Idempotency-Key": "k-3"}
    )
    response = await client.post(
        f"/v1/agreements/{agreement['id']}/transitions",
        json={"to": "negotiation"},
        headers={"Idempotency-Key": "k-3"},
    )

    assert response.status_code == 422


async def test_key_longer_than_255_characters_answers_422(client, app) -> None:
    response = await client.post(
        "/v1/organizations", json=organization_body(), headers={"Idempotency-Key": "k" * 256}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert await _organization_count(app) == 0


async def test_key_of_255_characters_is_accepted(client) -> None:
    response = await client.post(
        "/v1/organizations", json=organization_body(), headers={"Idempotency-Key": "k" * 255}
    )

    assert response.status_code == 201


async def test_keys_are_scoped_per_api_key(client, app) -> None:
    body = organization_body()
    await client.post("/v1/organizations", json=body, headers={"Idempotency-Key": "shared"})
    async with client_for(app, await make_key(app, ["write"])) as other:
        response = await other.post(
            "/v1/organizations", json=body, headers={"Idempotency-Key": "shared"}
        )

    assert response.status_code == 201
    assert "idempotent-replayed" not in response.headers
    assert await _organization_count(app) == 2


async def test_failed_request_does_not_consume_the_key(client) -> None:
    agreement = await create_agreement(client)
    path = f"/v1/agreements/{agreement['id']}/transitions"
    headers = {"Idempotency-Key": "after-fix"}
    refused = await client.post(path, json={"to": "signed"}, headers=headers)
    await client.post(path, json={"to": "negotiation"})
    accepted = await client.post(path, json={"to": "signed"}, headers=headers)

    assert refused.status_code == 409
    assert accepted.status_code in (200, 409)
    assert accepted.headers.get("idempotent-replayed") is None


async def test_stored_response_commits_with_the_change(client, app) -> None:
    await client.post(
        "/v1/organizations", json=organization_body(), headers={"Idempotency-Key": "atomic"}
    )
    async with app.state.sessionmaker() as session:
        record = await session.scalar(select(IdempotencyRecord))

    assert record is not None
    assert record.status_code == 201
    assert record.response_headers["location"].startswith("/v1/organizations/")


async def test_expired_key_runs_the_request_again(client, app) -> None:
    body = organization_body()
    await client.post("/v1/organizations", json=body, headers={"Idempotency-Key": "old"})
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(IdempotencyRecord).values(
                expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            )
        )
        await session.commit()
    again = await client.post("/v1/organizations", json=body, headers={"Idempotency-Key": "old"})

    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert await _organization_count(app) == 2


async def test_prune_deletes_only_expired_records(client, app) -> None:
    for key in ("keep", "drop"):
        await client.post(
            "/v1/organizations", json=organization_body(), headers={"Idempotency-Key": key}
        )
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key == "drop")
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        )
        pruned = await prune_idempotency_records(session)
        await session.commit()
        remaining = (await session.scalars(select(IdempotencyRecord.key))).all()

    assert pruned == 1
    assert remaining == ["keep"]


async def test_post_without_body_is_idempotent_too(client) -> None:
    agreement = await create_agreement(client)
    path = f"/v1/agreements/{agreement['id']}/transitions"
    first = await client.post(path, json={"to": "negotiation"}, headers={"Idempotency-Key": "move"})
    again = await client.post(path, json={"to": "negotiation"}, headers={"Idempotency-Key": "move"})

    assert first.status_code == 200
    assert (again.status_code, again.json()) == (200, first.json())


async def test_concurrent_posts_with_one_key_create_one_resource(client, app, backend) -> None:
    body = organization_body()
    responses = await asyncio.gather(
        *(
            client.post("/v1/organizations", json=body, headers={"Idempotency-Key": "burst"})
            for _ in range(20)
        )
    )

    statuses = sorted(response.status_code for response in responses)
    assert set(statuses) <= {201, 409}
    assert await _organization_count(app) == 1
    created = [response for response in responses if response.status_code == 201]
    assert len({response.json()["id"] for response in created}) == 1


async def test_request_while_the_first_runs_answers_409_on_postgresql(client, app, backend) -> None:
    if backend != "postgresql":
        # SQLite runs one writer at a time: a second request waits, then replays.
        return
    POSTGRES.require()
    async with app.state.sessionmaker() as session:
        api_key_id = await session.scalar(select(ApiKey.id))
    async with app.state.engine.connect() as holder:
        # Hold the key's lock the way an unfinished first request does.
        await holder.execute(
            text("SELECT pg_advisory_xact_lock(:lock_id)"),
            {"lock_id": advisory_lock_id(api_key_id, "running")},
        )
        response = await client.post(
            "/v1/organizations", json=organization_body(), headers={"Idempotency-Key": "running"}
        )
        await holder.rollback()

    assert response.status_code == 409
    assert response.json()["type"].endswith("idempotency-key-in-flight")
    assert await _organization_count(app) == 0


async def test_every_post_operation_documents_the_header(app) -> None:
    schema = app.openapi()
    posts = [
        (path, item["post"])
        for path, item in schema["paths"].items()
        if "post" in item and path.startswith("/v1")
    ]

    assert posts
    for path, operation in posts:
        names = {parameter["name"] for parameter in operation.get("parameters", [])}
        assert "Idempotency-Key" in names, path
