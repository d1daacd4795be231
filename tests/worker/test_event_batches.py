"""Events processed together (group commit) do the same work as one by one."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from services.worker import dispatch
from services.worker.consumer import (
    BatchAbandoned,
    EventBatcher,
    process_event,
    process_events_together,
)
from services.worker.handlers import register_handlers
from shared.models import OutboxEvent, ProcessedEvent
from tests.api.tracking_factories import active_agreement
from tests.factories import create_organization


def sessions(client):  # type: ignore[no-untyped-def]
    return client._transport.app.state.sessionmaker


async def all_event_ids(client) -> list:  # type: ignore[no-untyped-def]
    async with sessions(client)() as session:
        # In the order they were written: the test events' positions depend on it.
        query = select(OutboxEvent.id).order_by(OutboxEvent.occurred_at, OutboxEvent.id)
        return list((await session.scalars(query)).all())


async def processed(client) -> set[tuple[str, object]]:  # type: ignore[no-untyped-def]
    async with sessions(client)() as session:
        query = select(ProcessedEvent.consumer, ProcessedEvent.event_id)
        rows = (await session.execute(query)).all()
    return {(row.consumer, row.event_id) for row in rows}


async def test_events_processed_together_leave_nothing_for_one_by_one(client) -> None:
    await active_agreement(client)
    await create_organization(client)
    register_handlers()
    event_ids = await all_event_ids(client)
    await process_events_together(sessions(client), event_ids)
    assert [await process_event(sessions(client), event_id) for event_id in event_ids] == [
        [] for _ in event_ids
    ]


async def test_events_processed_together_write_what_one_by_one_would(client) -> None:
    await active_agreement(client)
    register_handlers()
    event_ids = await all_event_ids(client)
    await process_events_together(sessions(client), event_ids)
    together = await processed(client)
    async with sessions(client)() as session:
        for row in (await session.scalars(select(ProcessedEvent))).all():
            await session.delete(row)
        await session.commit()
    for event_id in event_ids:
        await process_event(sessions(client), event_id)
    assert together == await processed(client)


async def test_a_batch_with_an_event_already_done_is_abandoned(client) -> None:
    await create_organization(client)
    await create_organization(client)
    register_handlers()
    event_ids = await all_event_ids(client)
    await process_event(sessions(client), event_ids[0])
    # Its processed row is read up front, so it is simply left out.
    await process_events_together(sessions(client), event_ids)
    assert {event_id for _, event_id in await processed(client)} == set(event_ids)


async def test_a_failing_handler_abandons_the_batch(client) -> None:
    await create_organization(client)
    await create_organization(client)

    @dispatch.on_event("organization.", name="test.batch_poison")
    async def poison(_session, _event) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("poison")

    try:
        with pytest.raises(RuntimeError):
            await process_events_together(sessions(client), await all_event_ids(client))
    finally:
        dispatch.dispatcher.remove("test.batch_poison")


async def test_the_batcher_redoes_a_failed_batch_event_by_event(client) -> None:
    await create_organization(client)
    await create_organization(client)
    last = await create_organization(client)
    register_handlers()
    failing_for = last["id"]  # the first event runs alone, the other two together

    @dispatch.on_event("organization.", name="test.batch_one_bad")
    async def one_bad(_session, event) -> None:  # type: ignore[no-untyped-def]
        if event.data["id"] == failing_for:
            raise RuntimeError("bad event")

    try:
        batcher = EventBatcher(sessions(client), None, max_batches=1)
        event_ids = await all_event_ids(client)
        results = await asyncio.gather(
            *(batcher.process(event_id) for event_id in event_ids), return_exceptions=True
        )
    finally:
        dispatch.dispatcher.remove("test.batch_one_bad")
    assert [type(result).__name__ for result in results] == ["NoneType", "NoneType", "RuntimeError"]


def test_batch_abandoned_is_an_exception() -> None:
    assert issubclass(BatchAbandoned, Exception)


async def test_a_second_batch_waits_for_a_fair_share_of_the_worker_threads(client) -> None:
    """While a batch runs, the next starts only once the events waiting make a
    fair share of what the worker holds at once (2 of 4 threads for 2 batches),
    not one event at a time, and no more batches than allowed run at once."""
    if sessions(client).kw["bind"].dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: two batches never run at once there")
    for _ in range(4):
        await create_organization(client)
    first, *others = await all_event_ids(client)
    gate = asyncio.Event()
    started: asyncio.Queue[set[object]] = asyncio.Queue()

    async def record(_session, events) -> None:  # type: ignore[no-untyped-def]
        started.put_nowait({event.id for event in events})
        if first in {event.id for event in events}:
            await gate.wait()

    dispatch.dispatcher.add(dispatch.batch_handler(record, "organization.", name="test.gated"))
    try:
        batcher = EventBatcher(sessions(client), None, max_batches=2, capacity=4)
        running = [asyncio.create_task(batcher.process(first))]
        # The first event runs alone, held at the gate.
        assert await asyncio.wait_for(started.get(), 10) == {first}
        running.append(asyncio.create_task(batcher.process(others[0])))
        await asyncio.sleep(0.2)
        assert started.empty()  # one waiting: less than a fair share
        running.append(asyncio.create_task(batcher.process(others[1])))
        # Two waiting: half the threads, so the second batch starts.
        assert await asyncio.wait_for(started.get(), 10) == set(others[:2])
        running.append(asyncio.create_task(batcher.process(others[2])))
        await asyncio.sleep(0.2)
        assert started.empty()  # two batches run: the last event waits for one
        gate.set()
        await asyncio.gather(*running)
    finally:
        dispatch.dispatcher.remove("test.gated")
    assert await asyncio.wait_for(started.get(), 10) == {others[2]}


async def test_an_event_alone_that_fails_is_redone_handler_by_handler(client) -> None:
    """Its other handlers' work commits; the failing one fails (and is retried) alone."""
    await create_organization(client)
    register_handlers()
    [event_id] = await all_event_ids(client)

    @dispatch.on_event("organization.", name="test.alone_poison")
    async def poison(_session, _event) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("poison")

    try:
        batcher = EventBatcher(sessions(client), None)
        with pytest.raises(RuntimeError):
            await batcher.process(event_id)
    finally:
        dispatch.dispatcher.remove("test.alone_poison")
    done = {consumer for consumer, done_id in await processed(client) if done_id == event_id}
    assert done == {"webhooks.fan_out", "notifications.write"}


async def test_an_idle_batcher_lingers_for_events_to_share_its_batch(client) -> None:
    """With a linger, events arriving within it of the first go in one batch;
    without, the first starts alone at once."""
    for _ in range(4):
        await create_organization(client)
    first, second, third, fourth = await all_event_ids(client)
    batches: list[set[object]] = []

    async def record(_session, events) -> None:  # type: ignore[no-untyped-def]
        batches.append({event.id for event in events})

    dispatch.dispatcher.add(dispatch.batch_handler(record, "organization.", name="test.linger"))
    try:
        lingering = EventBatcher(sessions(client), None, linger=0.3)
        running = [asyncio.create_task(lingering.process(first))]
        await asyncio.sleep(0.05)
        running.append(asyncio.create_task(lingering.process(second)))
        await asyncio.gather(*running)
        eager = EventBatcher(sessions(client), None)
        running = [asyncio.create_task(eager.process(third))]
        await asyncio.sleep(0.05)
        running.append(asyncio.create_task(eager.process(fourth)))
        await asyncio.gather(*running)
    finally:
        dispatch.dispatcher.remove("test.linger")
    assert batches == [{first, second}, {third}, {fourth}]


async def test_a_full_batcher_does_not_linger(client) -> None:
    for _ in range(2):
        await create_organization(client)
    event_ids = await all_event_ids(client)
    batcher = EventBatcher(sessions(client), None, linger=30, capacity=2)
    # Two events fill its capacity: the batch starts without waiting out the linger.
    await asyncio.wait_for(
        asyncio.gather(*(batcher.process(event_id) for event_id in event_ids)), 10
    )
