"""Several events per broker message: coalesced by the publisher, each event
processed, a failing one split off to be retried and dead-lettered alone."""

from __future__ import annotations

import asyncio
import uuid

from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select

from services.worker import dispatch
from services.worker.actors import record_dead_letter
from shared.broker import (
    EVENTS_QUEUE,
    MAX_EVENTS_PER_MESSAGE,
    PROCESS_EVENT,
    OutboxPublisher,
    message_event_ids,
)
from shared.models import DeadLetter, OutboxEvent
from tests.factories import create_organization
from tests.worker.conftest import eventually, piped_client, pipeline  # noqa: F401 - fixtures


def queued_args(broker: StubBroker) -> list[list[str]]:
    """The args of each message waiting in the stub broker's events queue."""
    queue = broker.queues[EVENTS_QUEUE]
    messages = []
    while not queue.empty():
        messages.append(list(Message.decode(queue.get_nowait()).args))
    return messages


def _stub_publisher() -> tuple[StubBroker, OutboxPublisher]:
    broker = StubBroker()
    broker.declare_queue(EVENTS_QUEUE)
    return broker, OutboxPublisher(broker)


async def test_events_committed_meanwhile_go_out_in_one_message() -> None:
    broker, publisher = _stub_publisher()
    ids = [uuid.uuid4() for _ in range(5)]
    try:
        for event_id in ids[:3]:
            await publisher.after_commit([event_id])
        await publisher.after_commit(ids[3:])
        await publisher.drain()
        # A commit after the hand-over finished starts the next one.
        later = uuid.uuid4()
        await publisher.after_commit([later])
        await publisher.drain()
    finally:
        publisher.close()
    assert queued_args(broker) == [[str(event_id) for event_id in ids], [str(later)]]


async def test_a_message_carries_at_most_its_share_of_events() -> None:
    broker, publisher = _stub_publisher()
    ids = [uuid.uuid4() for _ in range(2 * MAX_EVENTS_PER_MESSAGE + 7)]
    try:
        published = publisher.publish([*ids, ids[0]])  # a repeated id goes once
    finally:
        publisher.close()
    assert published == ids
    sizes = [len(args) for args in queued_args(broker)]
    assert sizes == [MAX_EVENTS_PER_MESSAGE, MAX_EVENTS_PER_MESSAGE, 7]


async def test_an_event_in_flight_is_not_published_again() -> None:
    broker, publisher = _stub_publisher()
    first, second = uuid.uuid4(), uuid.uuid4()
    try:
        assert publisher.publish([first]) == [first]
        assert publisher.publish([first, second]) == [second]
    finally:
        publisher.close()
    assert queued_args(broker) == [[str(first)], [str(second)]]


def test_a_message_gives_back_the_ids_it_carries() -> None:
    ids = [uuid.uuid4(), uuid.uuid4()]
    message = {"actor_name": PROCESS_EVENT, "args": [str(ids[0]), "not-an-id", str(ids[1])]}
    assert message_event_ids(message) == ids
    assert message_event_ids({"actor_name": "other", "args": [str(ids[0])]}) == []


async def _events_of_new_organizations(client, count: int) -> list[uuid.UUID]:  # type: ignore[no-untyped-def]
    names = {(await create_organization(client))["id"] for _ in range(count)}
    maker = client.app.state.sessionmaker

    async def ids() -> list[uuid.UUID]:
        # Those the pipeline is done with (the in-process queue's consumer marks
        # an event dispatched once processed), so that only the test's handler
        # runs for them from here.
        async with maker() as session:
            rows = (
                await session.execute(
                    select(OutboxEvent.id, OutboxEvent.data).where(
                        OutboxEvent.type == "organization.created",
                        OutboxEvent.dispatched_at.is_not(None),
                    )
                )
            ).all()
        return [row.id for row in rows if row.data["id"] in names]

    found = await eventually(ids, lambda found: len(found) == count)
    return sorted(found)


async def test_every_event_of_a_message_is_processed(pipeline, piped_client) -> None:  # noqa: F811
    event_ids = await _events_of_new_organizations(piped_client, 3)
    seen: list[uuid.UUID] = []

    @dispatch.on_event("organization.", name="test.seen")
    async def record(_session, event) -> None:  # type: ignore[no-untyped-def]
        seen.append(event.id)

    async def handled() -> list[uuid.UUID]:
        return sorted(seen)

    try:
        assert pipeline.publisher.publish(event_ids) == event_ids  # one message
        await eventually(handled, lambda got: got == event_ids)
    finally:
        dispatch.dispatcher.remove("test.seen")
    assert sorted(seen) == event_ids  # each once


async def test_a_failing_event_of_a_message_is_dead_lettered_alone(
    pipeline,  # noqa: F811
    piped_client,  # noqa: F811
) -> None:
    event_ids = await _events_of_new_organizations(piped_client, 3)
    bad = event_ids[1]
    seen: list[uuid.UUID] = []

    @dispatch.on_event("organization.", name="test.one_poison")
    async def poison_one(_session, event) -> None:  # type: ignore[no-untyped-def]
        if event.id == bad:
            raise RuntimeError("poison")
        seen.append(event.id)

    maker = piped_client.app.state.sessionmaker

    async def letters() -> list[DeadLetter]:
        async with maker() as session:
            return list((await session.scalars(select(DeadLetter))).all())

    try:
        assert pipeline.publisher.publish(event_ids) == event_ids  # one message
        [letter] = await eventually(letters, lambda found: len(found) >= 1)
    finally:
        dispatch.dispatcher.remove("test.one_poison")
    assert letter.event_id == bad
    # The dead message is the bad event's own, not the one it came in.
    assert letter.message["args"] == [str(bad)]
    # (A good one may run twice: once in the batch the bad one failed, rolled back.)
    assert set(seen) == {event_ids[0], event_ids[2]}
    await asyncio.sleep(0.3)
    assert len(await letters()) == 1


async def test_a_dead_message_of_several_events_leaves_a_letter_for_each(client) -> None:
    first = await create_organization(client)
    second = await create_organization(client)
    maker = client._transport.app.state.sessionmaker
    async with maker() as session:
        ids = sorted(
            (
                await session.scalars(
                    select(OutboxEvent.id).where(
                        OutboxEvent.aggregate_id.in_(
                            [uuid.UUID(first["id"]), uuid.UUID(second["id"])]
                        )
                    )
                )
            ).all()
        )
    message = {
        "actor_name": PROCESS_EVENT,
        "message_id": "m-1",
        "args": [str(event_id) for event_id in ids],
        "options": {"traceback": "RuntimeError: broker gone"},
    }
    letters = await record_dead_letter(maker, message, {"retries": 12})
    async with maker() as session:
        stored = (await session.scalars(select(DeadLetter))).all()
        events = (
            await session.execute(
                select(OutboxEvent.dispatched_at, OutboxEvent.settled_at).where(
                    OutboxEvent.id.in_(ids)
                )
            )
        ).all()
    assert sorted(letter.event_id for letter in letters) == ids
    assert sorted(letter.event_id for letter in stored) == ids
    assert {letter.message_id for letter in stored} == {"m-1"}
    # Dead is settled: the relay does not hand them out again.
    assert all(row.dispatched_at is not None and row.settled_at is not None for row in events)
