"""A rollup recompute already covered by a later committed one is skipped."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from services.worker.rollups import recompute_on_event
from shared.models import OutboxEvent
from shared.rollups.store import (
    RecomputeLog,
    install_recompute_listeners,
    recompute_agreement,
)
from tests.api.tracking_factories import active_agreement


def sessions(client):  # type: ignore[no-untyped-def]
    return client._transport.app.state.sessionmaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(clock: Clock) -> Iterator[RecomputeLog]:
    install_recompute_listeners()
    yield RecomputeLog(clock=clock)


async def agreement_event(client) -> OutboxEvent:  # type: ignore[no-untyped-def]
    agreement = await active_agreement(client)
    async with sessions(client)() as session:
        return await session.scalar(
            select(OutboxEvent).where(OutboxEvent.aggregate_id == uuid.UUID(agreement["id"]))
        )


async def handled(client, event: OutboxEvent, log: RecomputeLog) -> bool:  # type: ignore[no-untyped-def]
    """Whether the handler recomputed for ``event`` (committed)."""
    async with sessions(client)() as session:
        recomputed = await recompute_on_event(session, event, log=log)
        await session.commit()
    return recomputed


async def test_an_event_known_before_a_committed_recompute_began_is_skipped(
    client, clock, log
) -> None:
    event = await agreement_event(client)
    clock.now = 2000.0
    async with sessions(client)() as session:
        await recompute_agreement(session, event.aggregate_id, log=log)
        await session.commit()
    clock.now = 1500.0  # the event was known committed before that recompute read
    assert await handled(client, event, log) is False


async def test_an_event_known_after_the_last_recompute_began_is_recomputed(
    client, clock, log
) -> None:
    event = await agreement_event(client)
    async with sessions(client)() as session:
        await recompute_agreement(session, event.aggregate_id, log=log)
        await session.commit()
    clock.now = 1001.0
    assert await handled(client, event, log) is True


async def test_a_recompute_rolled_back_covers_nothing(client, clock, log) -> None:
    event = await agreement_event(client)
    clock.now = 2000.0
    async with sessions(client)() as session:
        await recompute_agreement(session, event.aggregate_id, log=log)
        await session.rollback()
    clock.now = 1500.0
    assert await handled(client, event, log) is True
