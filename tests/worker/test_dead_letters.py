"""Dead letters: listed with their error, replayed through the relay."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from services.worker import dispatch
from services.worker.dead_letters import (
    failure_reason,
    list_dead_letters,
    replay_dead_letters,
)
from shared.models import DeadLetter, OutboxEvent, ProcessedEvent
from tests.factories import create_organization
from tests.worker.conftest import eventually, piped_client, pipeline  # noqa: F401 - fixtures

TRACEBACK = 'Traceback (most recent call last):\n  File "x.py", line 1\nRuntimeError: poison\n'


def sessions(client):  # type: ignore[no-untyped-def]
    return client._transport.app.state.sessionmaker


async def a_dead_letter(client, *, event: bool = True) -> DeadLetter:  # type: ignore[no-untyped-def]
    await create_organization(client)
    async with sessions(client)() as session:
        event_id = await session.scalar(select(OutboxEvent.id)) if event else None
        letter = DeadLetter(
            actor_name="events.process",
            event_id=event_id,
            message_id=uuid.uuid4().hex,
            retries=12,
            error=TRACEBACK,
            message={"args": [str(event_id)]},
            failed_at=dt.datetime.now(dt.UTC),
        )
        session.add(letter)
        if event_id is not None:
            event_row = await session.get(OutboxEvent, event_id)
            event_row.dispatched_at = dt.datetime.now(dt.UTC)
        await session.commit()
        return letter


def test_the_reason_is_the_exception_line_of_the_traceback() -> None:
    assert failure_reason(TRACEBACK) == "RuntimeError: poison"
    assert failure_reason(None) == "(no traceback kept)"


async def test_a_dead_letter_is_listed_with_its_event_and_error(client) -> None:
    letter = await a_dead_letter(client)
    async with sessions(client)() as session:
        [listed] = await list_dead_letters(session)
    assert (listed.id, listed.event_id) == (letter.id, letter.event_id)
    assert (listed.event_type, listed.reason) == ("organization.created", "RuntimeError: poison")


async def test_a_replay_hands_the_event_back_to_the_relay_once(client) -> None:
    letter = await a_dead_letter(client)
    async with sessions(client)() as session:
        first = await replay_dead_letters(session, [letter.id])
        await session.commit()
    async with sessions(client)() as session:
        again = await replay_dead_letters(session, [letter.id])
        dispatched = await session.scalar(
            select(OutboxEvent.dispatched_at).where(OutboxEvent.id == letter.event_id)
        )
        remaining = await list_dead_letters(session)
    assert first.replayed == [letter.id] and not first.refused
    assert dispatched is None
    assert again.replayed == [] and "already replayed" in again.refused[letter.id]
    assert remaining == []


async def test_unknown_and_eventless_dead_letters_are_refused(client) -> None:
    eventless = await a_dead_letter(client, event=False)
    unknown = uuid.uuid4()
    async with sessions(client)() as session:
        result = await replay_dead_letters(session, [eventless.id, unknown])
    assert result.replayed == []
    assert result.refused == {
        eventless.id: "it carries no event to replay",
        unknown: "no such dead letter",
    }


async def test_a_replayed_event_runs_the_handler_that_failed(piped_client) -> None:  # noqa: F811
    failing = {"now": True}

    @dispatch.on_event("organization.", name="test.flaky")
    async def flaky(_session, _event) -> None:  # type: ignore[no-untyped-def]
        if failing["now"]:
            raise RuntimeError("flaky")

    maker = piped_client.app.state.sessionmaker
    try:
        await create_organization(piped_client)

        async def letters() -> list:
            async with maker() as session:
                return await list_dead_letters(session)

        [letter] = await eventually(letters, lambda found: len(found) == 1)
        failing["now"] = False
        async with maker() as session:
            result = await replay_dead_letters(session)
            await session.commit()

        async def ran() -> int | None:
            async with maker() as session:
                return await session.scalar(
                    select(ProcessedEvent.processed_at).where(
                        ProcessedEvent.consumer == "test.flaky",
                        ProcessedEvent.event_id == letter.event_id,
                    )
                )

        await eventually(ran, lambda processed_at: processed_at is not None)
    finally:
        dispatch.dispatcher.remove("test.flaky")
    assert result.replayed == [letter.id]
    assert letter.reason == "RuntimeError: flaky"
