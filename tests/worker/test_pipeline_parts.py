"""Relay, feed, consumer, rollups and sweep, driven directly (no broker threads)."""

from __future__ import annotations

import datetime as dt
import uuid

from dramatiq.brokers.stub import StubBroker
from sqlalchemy import func, select

from services.worker import dispatch
from services.worker.consumer import process_event
from services.worker.handlers import register_handlers
from services.worker.relay import assign_positions, relay_once, republish
from services.worker.sweep import sweep_once
from shared.broker import OutboxPublisher
from shared.events import Aggregate, record_event
from shared.models import AgreementRollup, DeadLetter, OutboxEvent
from shared.rollups.store import recompute_agreement
from tests.api.tracking_factories import active_agreement, create_initiative, create_milestone
from tests.conftest import client_for, make_key
from tests.factories import create_agreement, create_organization


def sessions(client):  # type: ignore[no-untyped-def]
    return client._transport.app.state.sessionmaker


async def number_everything(client) -> None:  # type: ignore[no-untyped-def]
    async with sessions(client)() as session:
        await assign_positions(session)
        await session.commit()


async def events_of(client, **params):  # type: ignore[no-untyped-def]
    response = await client.get("/v1/events", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_feed_serves_only_events_with_a_position(client) -> None:
    await create_organization(client)
    assert (await events_of(client))["items"] == []


async def test_the_feed_continues_after_the_given_event(client) -> None:
    first = await create_organization(client)
    second = await create_organization(client)
    await number_everything(client)
    page = await events_of(client)
    after_first = await events_of(client, after=page["items"][0]["id"])
    assert [event["data"]["id"] for event in after_first["items"]] == [second["id"]]
    assert page["items"][0]["data"]["id"] == first["id"]


async def test_a_late_commit_is_served_after_what_was_already_served(client) -> None:
    maker = sessions(client)
    async with maker() as late:
        # This transaction's event has the smaller id but commits last.
        await record_event(
            late,
            event_type="organization.updated",
            aggregate=Aggregate("organization", uuid.uuid4()),
            data={"late": True},
        )
        await late.flush()
        early_id = late.info["accords_new_events"][0]
        # (SQLite has one writer at a time: commit the late one in order there.)
        if maker.kw["bind"].dialect.name == "sqlite":
            await late.commit()
            await number_everything(client)
            served = (await events_of(client))["items"]
            assert [event["id"] for event in served] == [str(early_id)]
            return
        await create_organization(client)
        await number_everything(client)
        served = (await events_of(client))["items"]
        await late.commit()
    await number_everything(client)
    after = await events_of(client, after=served[-1]["id"])
    assert [event["id"] for event in after["items"]] == [str(early_id)]


async def test_the_feed_filters_by_type_prefix(client) -> None:
    await create_agreement(client)
    await number_everything(client)
    page = await events_of(client, type="agreement.")
    assert {event["type"] for event in page["items"]} == {"agreement.created"}


async def test_an_unknown_after_event_answers_404(client) -> None:
    response = await client.get("/v1/events", params={"after": str(uuid.uuid4())})
    assert response.status_code == 404


async def test_a_key_bound_to_an_organization_sees_only_its_agreements_events(client) -> None:
    mine = await create_agreement(client)
    await create_agreement(client)
    await number_everything(client)
    app = client._transport.app
    party = uuid.UUID(mine["parties"][0]["organization_id"])
    key = await make_key(app, ["read"], organization_id=party)
    async with client_for(app, key) as bound:
        page = await events_of(bound, type="agreement.")
    assert [event["data"]["id"] for event in page["items"]] == [mine["id"]]


async def test_a_key_bound_to_another_organization_gets_404_for_a_rollup(client) -> None:
    agreement = await create_agreement(client)
    stranger = await create_organization(client)
    app = client._transport.app
    key = await make_key(app, ["read"], organization_id=uuid.UUID(stranger["id"]))
    async with client_for(app, key) as bound:
        response = await bound.get(f"/v1/agreements/{agreement['id']}/rollup")
    assert response.status_code == 404


async def test_republishing_hands_undispatched_events_to_the_broker(client) -> None:
    await create_organization(client)
    broker = StubBroker()
    broker.declare_queue("accords.events")
    publisher = OutboxPublisher(broker)
    async with sessions(client)() as session:
        published = await republish(session, publisher, delay_seconds=0)
        await session.commit()
    publisher.close()
    assert (published, broker.queues["accords.events"].qsize()) == (1, 1)


async def test_a_redelivered_event_runs_no_handler_twice(client) -> None:
    await create_organization(client)
    maker = sessions(client)
    async with maker() as session:
        event_id = await session.scalar(select(OutboxEvent.id))
    register_handlers()
    await process_event(maker, event_id)
    assert await process_event(maker, event_id) == []


async def test_a_rollup_counts_milestones_after_recompute(client) -> None:
    agreement = await active_agreement(client)
    initiative = await create_initiative(client, agreement)
    await create_milestone(client, initiative["id"], due_on="2020-01-01")
    async with sessions(client)() as session:
        rollup = await recompute_agreement(session, uuid.UUID(agreement["id"]))
        await session.commit()
    assert (rollup.health, rollup.milestones["overdue"]) == ("off_track", 1)


async def test_a_health_change_records_agreement_health_changed(client) -> None:
    agreement = await active_agreement(client)
    maker = sessions(client)
    async with maker() as session:
        await recompute_agreement(session, uuid.UUID(agreement["id"]))
        await session.commit()
    initiative = await create_initiative(client, agreement)
    await create_milestone(client, initiative["id"], due_on="2020-01-01")
    async with maker() as session:
        await recompute_agreement(session, uuid.UUID(agreement["id"]))
        await session.commit()
        changed = (
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.type == "agreement.health_changed")
            )
        ).all()
    assert [(e.data["previous_health"], e.data["health"]) for e in changed] == [
        ("not_started", "off_track")
    ]


async def test_the_stored_rollup_is_what_the_api_serves(client) -> None:
    agreement = await active_agreement(client)
    async with sessions(client)() as session:
        await recompute_agreement(session, uuid.UUID(agreement["id"]))
        await session.commit()
        stored = await session.get(AgreementRollup, uuid.UUID(agreement["id"]))
    body = (await client.get(f"/v1/agreements/{agreement['id']}/rollup")).json()
    assert body["computed_at"] == stored.computed_at.isoformat().replace("+00:00", "Z")


async def test_the_portfolio_counts_by_country_pair_and_status(client) -> None:
    await create_agreement(client)
    body = (await client.get("/v1/rollups/portfolio")).json()
    assert (body["by_country_pair"], body["by_status"], body["by_health"]) == (
        {"CN-PK": 1},
        {"draft": 1},
        {"pending": 1},
    )


async def test_the_sweep_emits_milestone_overdue_once(client) -> None:
    agreement = await active_agreement(client)
    initiative = await create_initiative(client, agreement)
    await create_milestone(client, initiative["id"], due_on="2020-01-01")
    maker = sessions(client)
    settings = client._transport.app.state.settings
    await sweep_once(maker, settings)
    await sweep_once(maker, settings)
    async with maker() as session:
        count = await session.scalar(
            select(func.count()).where(OutboxEvent.type == "milestone.overdue")
        )
    assert count == 1


async def test_the_sweep_sends_each_expiry_reminder_once_at_90_30_and_7_days(client) -> None:
    expires_on = dt.date(2031, 3, 31)
    await active_agreement(client, expires_on=expires_on.isoformat())
    maker = sessions(client)
    settings = client._transport.app.state.settings
    for days_before in (100, 90, 60, 40, 30, 20, 7, 3):
        await sweep_once(maker, settings, today=expires_on - dt.timedelta(days=days_before))
    async with maker() as session:
        notices = (
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.type == "agreement.expiring")
                # In the order they were written (heap order is not).
                .order_by(OutboxEvent.occurred_at, OutboxEvent.id)
            )
        ).all()
    assert [notice.data["days_before_expiry"] for notice in notices] == [90, 30, 7]


async def test_the_sweep_follows_the_expiry_reminder_days_setting(client) -> None:
    expires_on = dt.date(2031, 3, 31)
    await active_agreement(client, expires_on=expires_on.isoformat())
    maker = sessions(client)
    settings = client._transport.app.state.settings.model_copy(
        update={"expiry_reminder_days": [30, 7]}
    )
    for days_before in (40, 30, 20, 7, 3):
        await sweep_once(maker, settings, today=expires_on - dt.timedelta(days=days_before))
    async with maker() as session:
        notices = (
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.type == "agreement.expiring")
                # In the order they were written (heap order is not).
                .order_by(OutboxEvent.occurred_at, OutboxEvent.id)
            )
        ).all()
    assert [notice.data["days_before_expiry"] for notice in notices] == [30, 7]


async def test_the_sweep_expires_an_agreement_past_its_date(client) -> None:
    agreement = await active_agreement(client, expires_on="2031-03-31")
    await sweep_once(
        sessions(client), client._transport.app.state.settings, today=dt.date(2031, 4, 1)
    )
    body = (await client.get(f"/v1/agreements/{agreement['id']}")).json()
    assert body["status"] == "expired"


async def test_the_sweep_reports_a_dormant_agreement_once(client) -> None:
    await active_agreement(client)
    maker = sessions(client)
    settings = client._transport.app.state.settings
    later = dt.date.today() + dt.timedelta(days=settings.dormancy_days + 5)
    await sweep_once(maker, settings, today=later)
    await sweep_once(maker, settings, today=later + dt.timedelta(days=1))
    async with maker() as session:
        count = await session.scalar(
            select(func.count()).where(OutboxEvent.type == "agreement.dormant")
        )
    assert count == 1


async def test_a_poison_event_ends_in_dead_letters(settings, piped_client) -> None:
    @dispatch.on_event("organization.", name="test.poison")
    async def poison(_session, _event) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("poison")

    try:
        await create_organization(piped_client)
        maker = piped_client.app.state.sessionmaker
        from tests.worker.conftest import eventually

        async def letters() -> int:
            async with maker() as session:
                return await session.scalar(select(func.count()).select_from(DeadLetter))

        assert await eventually(letters, lambda count: count >= 1) == 1
    finally:
        dispatch.dispatcher.remove("test.poison")


async def test_the_relay_numbers_events_in_id_order(client) -> None:
    await create_organization(client)
    await create_organization(client)
    broker = StubBroker()
    broker.declare_queue("accords.events")
    publisher = OutboxPublisher(broker)
    await relay_once(sessions(client), publisher)
    publisher.close()
    async with sessions(client)() as session:
        rows = (await session.execute(select(OutboxEvent.id, OutboxEvent.position))).all()
    assert [row.id for row in sorted(rows, key=lambda row: row.position)] == sorted(
        row.id for row in rows
    )


def test_a_worker_process_runs_its_event_loop_on_uvloop() -> None:
    import asyncio

    import uvloop

    from services.worker.main import use_uvloop

    previous = asyncio.get_event_loop_policy()
    try:
        use_uvloop()
        loop = asyncio.new_event_loop()  # as dramatiq's asyncio middleware makes it
        try:
            assert isinstance(loop, uvloop.Loop)
        finally:
            loop.close()
    finally:
        asyncio.set_event_loop_policy(previous)
