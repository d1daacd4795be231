"""The feed of an organization-bound key holds every event about what it may read.

Including stand-alone research collaborations its organization takes part in,
and the `deleted` events (and history) of what it could see when deleted.
"""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from services.worker.relay import assign_positions
from shared.events import Aggregate, record_event
from shared.models import OutboxEvent
from tests.api.tracking_factories import create_research
from tests.conftest import client_for, make_key
from tests.factories import create_agreement, create_organization


async def number_everything(app) -> None:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        while await assign_positions(session):
            pass
        await session.commit()


async def whole_feed(bound: httpx.AsyncClient, **params: str) -> list[dict]:
    """Every page of the feed, following next_cursor."""
    events: list[dict] = []
    cursor = None
    while True:
        query = {"limit": "200", **params, **({"cursor": cursor} if cursor else {})}
        response = await bound.get("/v1/events", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        events.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return events


async def bound_key(app, organization: dict) -> str:  # type: ignore[no-untyped-def]
    return await make_key(app, ["read", "write"], organization_id=uuid.UUID(organization["id"]))


def about(events: list[dict], resource_id: str) -> list[str]:
    return [event["type"] for event in events if event["data"].get("id") == resource_id]


async def test_a_stand_alone_collaboration_is_in_the_feed_of_its_participants_only(
    client, app
) -> None:
    alpha, beta, gamma = [await create_organization(client) for _ in range(3)]
    research = await create_research(client, [alpha["id"], beta["id"]])
    await number_everything(app)

    async with client_for(app, await bound_key(app, beta)) as participant:
        seen = await whole_feed(participant)
    async with client_for(app, await bound_key(app, gamma)) as outsider:
        unseen = await whole_feed(outsider)

    assert about(seen, research["id"]) == ["research_collaboration.created"]
    assert about(unseen, research["id"]) == []


async def test_a_deleted_agreement_stays_in_the_feed_of_its_former_parties(client, app) -> None:
    alpha, beta, gamma = [await create_organization(client) for _ in range(3)]
    agreement = await create_agreement(client, parties=[alpha, beta])
    deleted = await client.delete(f"/v1/agreements/{agreement['id']}", headers={"If-Match": '"1"'})
    assert deleted.status_code == 204, deleted.text
    await number_everything(app)

    async with client_for(app, await bound_key(app, alpha)) as party:
        seen = await whole_feed(party, type="agreement.")
    async with client_for(app, await bound_key(app, gamma)) as outsider:
        unseen = await whole_feed(outsider, type="agreement.")

    assert about(seen, agreement["id"]) == ["agreement.created", "agreement.deleted"]
    assert about(unseen, agreement["id"]) == []


async def test_a_deleted_stand_alone_collaboration_stays_in_its_participants_feed(
    client, app
) -> None:
    alpha, beta = [await create_organization(client) for _ in range(2)]
    research = await create_research(client, [alpha["id"], beta["id"]])
    deleted = await client.delete(
        f"/v1/research-collaborations/{research['id']}", headers={"If-Match": '"1"'}
    )
    assert deleted.status_code == 204, deleted.text
    await number_everything(app)

    async with client_for(app, await bound_key(app, beta)) as participant:
        seen = await whole_feed(participant)

    assert about(seen, research["id"]) == [
        "research_collaboration.created",
        "research_collaboration.deleted",
    ]


async def test_paging_a_bound_feed_deeply_returns_each_of_its_events_once_in_order(
    client, app
) -> None:
    ours, theirs, partner = [await create_organization(client) for _ in range(3)]
    our_agreement = await create_agreement(client, parties=[ours, partner])
    their_agreement = await create_agreement(client, parties=[theirs, partner])
    streams = [
        Aggregate("agreement", uuid.UUID(our_agreement["id"])),
        Aggregate("agreement", uuid.UUID(their_agreement["id"])),
        Aggregate("organization", uuid.UUID(theirs["id"])),
        Aggregate("organization", uuid.UUID(ours["id"])),
        Aggregate("organization", uuid.UUID(partner["id"])),
    ]
    for batch in range(30):  # other organizations' events interleaved with ours
        async with app.state.sessionmaker() as session:
            for number in range(batch * 100, batch * 100 + 100):
                stream = streams[number % len(streams)]
                data = {"id": str(stream.id), "n": number}
                await record_event(
                    session, event_type=f"{stream.type}.updated", aggregate=stream, data=data
                )
            await session.commit()
    await number_everything(app)
    async with app.state.sessionmaker() as session:
        expected = [
            str(event_id)
            for event_id in await session.scalars(
                select(OutboxEvent.id)
                .where(OutboxEvent.aggregate_id.in_([streams[0].id, streams[3].id]))
                .order_by(OutboxEvent.position)
            )
        ]

    async with client_for(app, await bound_key(app, ours)) as bound:
        served = [event["id"] for event in await whole_feed(bound)]

    assert len(expected) == 2 + 1200  # both created, 600 updates of each
    assert served == expected
