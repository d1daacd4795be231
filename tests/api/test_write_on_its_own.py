"""A create written in one statement commits on its own (no BEGIN or COMMIT
round trips on PostgreSQL), and is the same change as in a transaction: its
rows, event and audit row stored together, its event handed to the broker
after it commits, its conflicts refused. With an Idempotency-Key the claim
opens the transaction first, so the stored response commits with the change."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import pytest
from sqlalchemy import func, select

from shared.models import Agreement, AgreementParty, AuditEntry, OutboxEvent
from tests.factories import agreement_body, create_organization


@contextmanager
def driver_calls() -> Iterator[list[str]]:
    """What asyncpg connections are asked to run: every statement SQLAlchemy's
    adapter begins or ends a transaction with, and every statement the domain
    core sends straight to the driver."""
    sent: list[str] = []
    patched = {name: getattr(asyncpg.Connection, name) for name in ("execute", "fetch")}

    def recording(name: str):  # type: ignore[no-untyped-def]
        original = patched[name]

        async def call(self, query, *args, **kwargs):  # type: ignore[no-untyped-def]
            sent.append(query.split()[0].rstrip(";").upper())
            return await original(self, query, *args, **kwargs)

        return call

    with pytest.MonkeyPatch.context() as patch:
        for name in patched:
            patch.setattr(asyncpg.Connection, name, recording(name))
        yield sent


@pytest.fixture
def handed_over(app) -> list[uuid.UUID]:  # type: ignore[no-untyped-def]
    ids: list[uuid.UUID] = []

    async def after_commit(event_ids: list[uuid.UUID]) -> None:
        ids.extend(event_ids)

    app.state.after_commit = after_commit
    return ids


async def parties(client) -> list[str]:  # type: ignore[no-untyped-def]
    return [(await create_organization(client))["id"] for _ in range(2)]


async def stored(app, agreement_id: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """How many rows of each kind the create left, and its event's id."""
    key = uuid.UUID(agreement_id)
    async with app.state.sessionmaker() as session:
        counts = [
            await session.scalar(select(func.count()).select_from(model).where(where))
            for model, where in (
                (Agreement, Agreement.id == key),
                (AgreementParty, AgreementParty.agreement_id == key),
                (OutboxEvent, OutboxEvent.aggregate_id == key),
                (AuditEntry, AuditEntry.entity_id == key),
            )
        ]
        event = await session.scalar(
            select(OutboxEvent.id).where(
                OutboxEvent.aggregate_id == key, OutboxEvent.type == "agreement.created"
            )
        )
    return {"counts": tuple(counts), "event": event}


async def test_a_create_is_stored_whole_and_its_event_handed_over(app, client, handed_over) -> None:
    body = agreement_body(await parties(client))
    handed_over.clear()

    response = await client.post("/v1/agreements", json=body)

    assert response.status_code == 201, response.text
    record = await stored(app, response.json()["id"])
    assert record["counts"] == (1, 2, 1, 1)
    assert handed_over == [record["event"]]
    read = await client.get(f"/v1/agreements/{response.json()['id']}")
    assert read.json() == response.json()


async def test_a_create_sends_no_begin_or_commit_on_postgresql(app, client, backend) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite keeps its transactions (BEGIN IMMEDIATE serialises its writers)")
    body = agreement_body(await parties(client))

    with driver_calls() as sent:
        response = await client.post("/v1/agreements", json=body)

    assert response.status_code == 201, response.text
    # The check (reference free, parties there), then the one write: each its own transaction.
    assert sent == ["SELECT", "WITH"]


async def test_with_an_idempotency_key_the_create_keeps_its_transaction(
    app, client, backend, handed_over
) -> None:
    body = agreement_body(await parties(client))
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    handed_over.clear()

    with driver_calls() as sent:
        first = await client.post("/v1/agreements", json=body, headers=headers)
    again = await client.post("/v1/agreements", json=body, headers=headers)

    assert first.status_code == 201, first.text
    if backend == "postgresql":
        assert sent.count("BEGIN") == 1 and sent.count("COMMIT") == 1, sent
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    record = await stored(app, first.json()["id"])
    assert record["counts"] == (1, 2, 1, 1)
    assert handed_over == [record["event"]]


async def test_a_refused_create_stores_nothing_and_hands_over_nothing(
    app, client, handed_over
) -> None:
    ids = await parties(client)
    first = await client.post("/v1/agreements", json=agreement_body(ids, reference="AGR-ONCE"))
    assert first.status_code == 201
    handed_over.clear()
    missing = str(uuid.uuid4())

    taken = await client.post("/v1/agreements", json=agreement_body(ids, reference="AGR-ONCE"))
    unknown = await client.post("/v1/agreements", json=agreement_body([ids[0], missing]))

    assert taken.status_code == 409, taken.text
    assert unknown.status_code == 422, unknown.text
    assert missing in unknown.text
    assert handed_over == []
    async with app.state.sessionmaker() as session:
        total = await session.scalar(select(func.count()).select_from(Agreement))
        events = await session.scalar(
            select(func.count()).where(OutboxEvent.type == "agreement.created")
        )
    assert (total, events) == (1, 1)
