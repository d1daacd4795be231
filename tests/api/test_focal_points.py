from __future__ import annotations

import uuid

import pytest

from tests.api.legal_factories import create_contact, put_focal_points
from tests.api.tracking_factories import events_of
from tests.conftest import client_for, make_key
from tests.factories import create_agreement, create_organization


@pytest.fixture
async def agreement(client) -> dict:
    return await create_agreement(client)


def _party(agreement: dict, index: int) -> str:
    return agreement["parties"][index]["organization_id"]


async def test_set_the_focal_points_of_an_agreement(client, agreement) -> None:
    stza = await create_contact(client, _party(agreement, 0), name="Ayesha Khan")
    gei = await create_contact(client, _party(agreement, 1), name="Li Wei")

    response = await put_focal_points(
        client, agreement["id"], [(stza["id"], "focal_point"), (gei["id"], "technical")]
    )

    assert response.status_code == 200, response.text
    assert [(p["contact_id"], p["role"], p["name"]) for p in response.json()["focal_points"]] == [
        (stza["id"], "focal_point", "Ayesha Khan"),
        (gei["id"], "technical", "Li Wei"),
    ]
    read = (await client.get(f"/v1/agreements/{agreement['id']}/focal-points")).json()
    assert read == response.json()


async def test_put_replaces_the_whole_set(client, agreement) -> None:
    first = await create_contact(client, _party(agreement, 0))
    second = await create_contact(client, _party(agreement, 1))
    await put_focal_points(client, agreement["id"], [(first["id"], "focal_point")])

    response = await put_focal_points(client, agreement["id"], [(second["id"], "legal")])

    assert [p["contact_id"] for p in response.json()["focal_points"]] == [second["id"]]


async def test_one_contact_may_hold_several_roles(client, agreement) -> None:
    contact = await create_contact(client, _party(agreement, 0))

    response = await put_focal_points(
        client, agreement["id"], [(contact["id"], "focal_point"), (contact["id"], "signatory")]
    )

    assert response.status_code == 200
    assert len(response.json()["focal_points"]) == 2


async def test_the_same_contact_twice_in_one_role_answers_422(client, agreement) -> None:
    contact = await create_contact(client, _party(agreement, 0))

    response = await put_focal_points(
        client, agreement["id"], [(contact["id"], "legal"), (contact["id"], "legal")]
    )

    assert response.status_code == 422


async def test_a_contact_outside_the_parties_answers_422(client, agreement) -> None:
    outsider = await create_contact(client, (await create_organization(client))["id"])

    response = await put_focal_points(client, agreement["id"], [(outsider["id"], "focal_point")])

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "focal_points", 0, "contact_id"]
    assert "not a party" in response.json()["errors"][0]["msg"]


async def test_an_unknown_contact_answers_422(client, agreement) -> None:
    response = await put_focal_points(client, agreement["id"], [(str(uuid.uuid4()), "legal")])

    assert response.status_code == 422
    assert response.json()["errors"][0]["msg"] == "no such contact"


async def test_an_unknown_role_answers_422(client, agreement) -> None:
    contact = await create_contact(client, _party(agreement, 0))

    response = await put_focal_points(client, agreement["id"], [(contact["id"], "chauffeur")])

    assert response.status_code == 422


async def test_focal_points_of_an_unknown_agreement_answer_404(client) -> None:
    response = await client.get(f"/v1/agreements/{uuid.uuid4()}/focal-points")

    assert response.status_code == 404


async def test_a_change_emits_one_event_in_the_agreement_sequence(client, app, agreement) -> None:
    contact = await create_contact(client, _party(agreement, 0))

    await put_focal_points(client, agreement["id"], [(contact["id"], "focal_point")])
    await put_focal_points(client, agreement["id"], [(contact["id"], "focal_point")])

    events = await events_of(app, prefix="agreement.focal_points_changed")
    assert len(events) == 1
    assert events[0][1]["agreement_id"] == agreement["id"]
    assert events[0][1]["focal_points"][0]["contact_id"] == contact["id"]


async def test_focal_point_events_follow_the_agreement_sequence(client, app, agreement) -> None:
    from sqlalchemy import select

    from shared.models import OutboxEvent

    contact = await create_contact(client, _party(agreement, 0))
    await put_focal_points(client, agreement["id"], [(contact["id"], "focal_point")])

    async with app.state.sessionmaker() as session:
        rows = (
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.aggregate_id == uuid.UUID(agreement["id"]))
                .order_by(OutboxEvent.sequence)
            )
        ).all()
    assert [(row.type, row.sequence) for row in rows] == [
        ("agreement.created", 1),
        ("agreement.focal_points_changed", 2),
    ]


async def test_a_bound_key_gets_404_for_another_agreements_focal_points(client, app) -> None:
    ours = await create_organization(client)
    theirs = await create_agreement(client)
    contact = await create_contact(client, _party(theirs, 0))
    await put_focal_points(client, theirs["id"], [(contact["id"], "focal_point")])
    key = await make_key(app, ["read", "write"], organization_id=uuid.UUID(ours["id"]))

    async with client_for(app, key) as bound:
        read = await bound.get(f"/v1/agreements/{theirs['id']}/focal-points")
        write = await put_focal_points(bound, theirs["id"], [])
        contact_read = await bound.get(f"/v1/contacts/{contact['id']}")
        listed = (await bound.get("/v1/contacts")).json()

    assert (read.status_code, write.status_code, contact_read.status_code) == (404, 404, 404)
    assert listed["items"] == []


async def test_deleting_an_agreement_drops_its_focal_points(client, agreement) -> None:
    contact = await create_contact(client, _party(agreement, 0))
    await put_focal_points(client, agreement["id"], [(contact["id"], "focal_point")])

    deleted = await client.delete(f"/v1/agreements/{agreement['id']}", headers={"If-Match": '"1"'})
    contact_deleted = await client.delete(
        f"/v1/contacts/{contact['id']}", headers={"If-Match": '"1"'}
    )

    assert (deleted.status_code, contact_deleted.status_code) == (204, 204)
