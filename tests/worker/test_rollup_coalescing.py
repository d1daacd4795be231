"""A rollup recompute already covered by a later committed one is skipped."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from services.worker import rollups
from services.worker.rollups import recompute_agreement, recompute_on_event
from shared.models import OutboxEvent
from tests.api.tracking_factories import active_agreement


def sessions(client):  # type: ignore[no-untyped-def]
    return client._transport.app.state.sessionmaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(rollups.time, "monotonic", clock)
    monkeypatch.setattr(rollups, "_recomputed_from", {})
    return clock


async def agreement_event(client) -> OutboxEvent:  # type: ignore[no-untyped-def]
    agreement = await active_agreement(client)
    async with sessions(client)() as session:
        return await session.scalar(
            select(OutboxEvent).where(OutboxEvent.aggregate_id == uuid.UUID(agreement["id"]))
        )


async def recomputes_for(client, event: OutboxEvent, monkeypatch) -> int:  # type: ignore[no-untyped-def]
    calls = []
    real = rollups._recompute_locked

    async def spy(session, agreement_id, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(agreement_id)
        return await real(session, agreement_id, **kwargs)

    monkeypatch.setattr(rollups, "_recompute_locked", spy)
    async with sessions(client)() as session:
        await recompute_on_event(session, event)
        await session.commit()
    return len(calls)


async def test_an_event_known_before_a_committed_recompute_began_is_skipped(
    client, clock, monkeypatch
) -> None:
    event = await agreement_event(client)
    clock.now = 2000.0
    async with sessions(client)() as session:
        await recompute_agreement(session, event.aggregate_id)
        await session.commit()
    clock.now = 1500.0  # the event was known committed before that recompute read
    assert await recomputes_for(client, event, monkeypatch) == 0


async def test_an_event_known_after_the_last_recompute_began_is_recomputed(
    client, clock, monkeypatch
) -> None:
    event = await agreement_event(client)
    async with sessions(client)() as session:
        await recompute_agreement(session, event.aggregate_id)
        await session.commit()
    clock.now = 1001.0
    assert await recomputes_for(client, event, monkeypatch) == 1


async def test_a_recompute_rolled_back_covers_nothing(client, clock, monkeypatch) -> None:
    event = await agreement_event(client)
    clock.now = 2000.0
    async with sessions(client)() as session:
        await recompute_agreement(session, event.aggregate_id)
        await session.rollback()
    clock.now = 1500.0
    assert await recomputes_for(client, event, monkeypatch) == 1
