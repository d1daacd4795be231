from __future__ import annotations

import uuid

import pytest

from tests.api.tracking_factories import (
    active_agreement,
    create_initiative,
    create_milestone,
    events_of,
    initiative_body,
    move_initiative,
)
from tests.conftest import client_for, make_key
from tests.factories import (
    Ref,
    create_agreement,
    create_organization,
    listed_ids,
    resolved,
    transition,
)


async def test_create_starts_planned_under_its_agreement(client) -> None:
    agreement = await create_agreement(client)

    response = await client.post(
        f"/v1/agreements/{agreement['id']}/initiatives", json=initiative_body(agreement)
    )

    assert response.status_code == 201, response.text
    initiative = response.json()
    assert initiative["status"] == "planned"
    assert initiative["agreement_id"] == agreement["id"]
    assert initiative["weight"] == 1
    assert response.headers["location"] == f"/v1/initiatives/{initiative['id']}"
    assert response.headers["etag"] == '"1"'


async def test_objective_ref_must_name_an_objective_of_the_agreement(client) -> None:
    agreement = await create_agreement(client)

    response = await client.post(
        f"/v1/agreements/{agreement['id']}/initiatives",
        json=initiative_body(agreement, objective_ref="O9"),
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "objective_ref"]


async def test_objective_ref_is_optional(client) -> None:
    agreement = await create_agreement(client)

    initiative = await create_initiative(client, agreement, objective_ref=None)

    assert initiative["objective_ref"] is None


async def test_lead_must_be_a_party(client) -> None:
    agreement = await create_agreement(client)
    outsider = await create_organization(client)

    response = await client.post(
        f"/v1/agreements/{agreement['id']}/initiatives",
        json=initiative_body(agreement, lead_organization_id=outsider["id"]),
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "lead_organization_id"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"planned_start": "2024-02-01", "planned_end": "2024-01-01"},
        {"actual_start": "2024-02-01", "actual_end": "2024-01-31"},
        {"weight": 0},
        {"weight": 1.5},
        {"status": "in_progress"},
        {"title": "   "},
    ],
)
async def test_invalid_initiative_answers_422(client, overrides) -> None:
    agreement = await create_agreement(client)

    response = await client.post(
        f"/v1/agreements/{agreement['id']}/initiatives",
        json=initiative_body(agreement, **overrides),
    )

    assert response.status_code == 422


async def test_unknown_agreement_answers_404(client) -> None:
    agreement = await create_agreement(client)

    response = await client.post(
        f"/v1/agreements/{uuid.uuid4()}/initiatives", json=initiative_body(agreement)
    )

    assert response.status_code == 404


async def test_a_terminated_agreement_takes_no_new_initiative(client) -> None:
    agreement = await active_agreement(client)
    await transition(client, agreement["id"], "terminated", reason="Funding ended")

    response = await client.post(
        f"/v1/agreements/{agreement['id']}/initiatives", json=initiative_body(agreement)
    )

    assert response.status_code == 409


@pytest.fixture
async def filtered(client) -> dict[str, dict]:
    """Two initiatives under different agreements, objectives and leads."""
    first = await create_agreement(client)
    second = await create_agreement(client)
    one = await create_initiative(client, first)
    two = await create_initiative(
        client,
        second,
        objective_ref="O2",
        lead_organization_id=second["parties"][1]["organization_id"],
    )
    lead = {"id": second["parties"][1]["organization_id"]}
    return {"one": one, "two": two, "second": second, "lead": lead}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({}, ["one", "two"], id="none"),
        pytest.param({"agreement_id": Ref("second")}, ["two"], id="agreement_id"),
        pytest.param({"lead_organization_id": Ref("lead")}, ["two"], id="lead_organization_id"),
        pytest.param({"objective_ref": "O2"}, ["two"], id="objective_ref"),
        pytest.param({"status": "planned"}, ["one", "two"], id="status-matching-both"),
        pytest.param({"status": "completed"}, [], id="status-matching-none"),
    ],
)
async def test_a_filter_lists_only_the_matching_initiatives(
    client, filtered, params, expected
) -> None:
    ids = await listed_ids(client, "/v1/initiatives", resolved(params, filtered))

    assert ids == [filtered[name]["id"] for name in expected]


async def test_pages_with_cursor_cover_every_initiative_once(client) -> None:
    agreement = await create_agreement(client)
    created = [(await create_initiative(client, agreement))["id"] for _ in range(5)]

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/initiatives", params=params)).json()
        seen.extend(initiative["id"] for initiative in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == created


async def test_patch_needs_if_match(client) -> None:
    initiative = await create_initiative(client, await create_agreement(client))

    missing = await client.patch(f"/v1/initiatives/{initiative['id']}", json={"weight": 3})
    stale = await client.patch(
        f"/v1/initiatives/{initiative['id']}", json={"weight": 3}, headers={"If-Match": '"7"'}
    )

    assert missing.status_code == 428
    assert stale.status_code == 412


async def test_patch_changes_fields_and_bumps_the_version(client) -> None:
    initiative = await create_initiative(client, await create_agreement(client))

    response = await client.patch(
        f"/v1/initiatives/{initiative['id']}",
        json={"weight": 3, "objective_ref": "O2"},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 200, response.text
    assert response.json()["weight"] == 3
    assert response.json()["objective_ref"] == "O2"
    assert response.headers["etag"] == '"2"'


async def test_patch_checks_dates_against_stored_values(client) -> None:
    agreement = await create_agreement(client)
    initiative = await create_initiative(client, agreement, planned_start="2024-03-01")

    response = await client.patch(
        f"/v1/initiatives/{initiative['id']}",
        json={"planned_end": "2024-02-01"},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 422


async def test_patch_refuses_a_lead_that_is_not_a_party(client) -> None:
    initiative = await create_initiative(client, await create_agreement(client))
    outsider = await create_organization(client)

    response = await client.patch(
        f"/v1/initiatives/{initiative['id']}",
        json={"lead_organization_id": outsider["id"]},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 422


async def test_status_cannot_be_patched(client) -> None:
    initiative = await create_initiative(client, await create_agreement(client))

    response = await client.patch(
        f"/v1/initiatives/{initiative['id']}",
        json={"status": "completed"},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 422


async def test_starting_sets_actual_start(client) -> None:
    initiative = await create_initiative(client, await active_agreement(client))

    response = await move_initiative(client, initiative["id"], "in_progress", on="2024-01-15")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "in_progress"
    assert response.json()["actual_start"] == "2024-01-15"


async def test_completing_sets_actual_end(client) -> None:
    initiative = await create_initiative(client, await active_agreement(client))
    await move_initiative(client, initiative["id"], "in_progress", on="2024-01-15")

    response = await move_initiative(client, initiative["id"], "completed", on="2024-06-30")

    assert response.json()["status"] == "completed"
    assert response.json()["actual_end"] == "2024-06-30"


async def test_planned_cannot_jump_to_completed(client) -> None:
    initiative = await create_initiative(client, await active_agreement(client))

    response = await move_initiative(client, initiative["id"], "completed")

    assert response.status_code == 409
    assert response.json()["allowed"] == ["in_progress", "cancelled"]


async def test_a_cancelled_initiative_cannot_move(client) -> None:
    initiative = await create_initiative(client, await active_agreement(client))
    await move_initiative(client, initiative["id"], "cancelled")

    response = await move_initiative(client, initiative["id"], "in_progress")

    assert response.status_code == 409
    assert response.json()["allowed"] == []


async def test_hold_and_resume_by_hand(client) -> None:
    initiative = await create_initiative(client, await active_agreement(client))
    await move_initiative(client, initiative["id"], "in_progress")

    held = await move_initiative(client, initiative["id"], "on_hold", reason="Awaiting budget")
    resumed = await move_initiative(client, initiative["id"], "in_progress")

    assert held.json()["status"] == "on_hold"
    assert resumed.json()["status"] == "in_progress"


async def test_work_cannot_start_while_the_agreement_is_suspended(client) -> None:
    agreement = await active_agreement(client)
    initiative = await create_initiative(client, agreement)
    await transition(client, agreement["id"], "suspended")

    response = await move_initiative(client, initiative["id"], "in_progress")

    assert response.status_code == 409
    assert "suspended" in response.json()["detail"]


async def test_status_change_event_carries_previous_status_and_reason(client, app) -> None:
    initiative = await create_initiative(client, await active_agreement(client))

    await move_initiative(client, initiative["id"], "in_progress", reason="Kick-off held")

    [(event_type, data)] = await events_of(app, prefix="initiative.status_changed")
    assert event_type == "initiative.status_changed"
    assert data["previous_status"] == "planned"
    assert data["status"] == "in_progress"
    assert data["reason"] == "Kick-off held"


async def test_create_update_delete_emit_events_on_the_agreement_stream(client, app) -> None:
    agreement = await create_agreement(client)
    initiative = await create_initiative(client, agreement)
    await client.patch(
        f"/v1/initiatives/{initiative['id']}", json={"weight": 2}, headers={"If-Match": '"1"'}
    )
    await client.delete(f"/v1/initiatives/{initiative['id']}", headers={"If-Match": '"2"'})

    from sqlalchemy import select

    from shared.models import OutboxEvent

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
        ("initiative.created", 2),
        ("initiative.updated", 3),
        ("initiative.deleted", 4),
    ]


async def test_an_initiative_with_milestones_cannot_be_deleted(client) -> None:
    initiative = await create_initiative(client, await create_agreement(client))
    await create_milestone(client, initiative["id"])

    response = await client.delete(
        f"/v1/initiatives/{initiative['id']}", headers={"If-Match": '"1"'}
    )

    assert response.status_code == 409


async def test_delete_then_get_answers_404(client) -> None:
    initiative = await create_initiative(client, await create_agreement(client))

    deleted = await client.delete(
        f"/v1/initiatives/{initiative['id']}", headers={"If-Match": '"1"'}
    )
    response = await client.get(f"/v1/initiatives/{initiative['id']}")

    assert deleted.status_code == 204
    assert response.status_code == 404


async def test_an_organization_bound_key_sees_only_its_agreements_initiatives(app, client) -> None:
    mine = await create_agreement(client)
    theirs = await create_agreement(client)
    visible = await create_initiative(client, mine)
    hidden = await create_initiative(client, theirs)
    key = await make_key(
        app, ["read", "write"], organization_id=uuid.UUID(mine["parties"][0]["organization_id"])
    )

    async with client_for(app, key) as bound:
        listed = (await bound.get("/v1/initiatives")).json()["items"]
        fetched = await bound.get(f"/v1/initiatives/{hidden['id']}")
        created = await bound.post(
            f"/v1/agreements/{theirs['id']}/initiatives", json=initiative_body(theirs)
        )

    assert [initiative["id"] for initiative in listed] == [visible["id"]]
    assert fetched.status_code == 404
    assert created.status_code == 404


async def test_reading_needs_the_read_scope(app, client) -> None:
    key = await make_key(app, ["webhooks"])

    async with client_for(app, key) as webhooks_only:
        response = await webhooks_only.get("/v1/initiatives")

    assert response.status_code == 403


async def test_removing_an_objective_in_use_answers_409(client) -> None:
    agreement = await create_agreement(client)
    await create_initiative(client, agreement, objective_ref="O2")

    response = await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={"objectives": [{"ref": "O1", "text": "Capacity building."}]},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 409
    assert "O2" in response.json()["detail"]


async def test_removing_a_party_that_leads_an_initiative_answers_409(client) -> None:
    agreement = await create_agreement(client)
    lead, other = (party["organization_id"] for party in agreement["parties"])
    await create_initiative(client, agreement, lead_organization_id=lead)

    response = await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={"parties": [{"organization_id": other, "role": "signatory"}]},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 409


async def test_an_agreement_with_initiatives_cannot_be_deleted(client) -> None:
    agreement = await create_agreement(client)
    await create_initiative(client, agreement)

    response = await client.delete(f"/v1/agreements/{agreement['id']}", headers={"If-Match": '"1"'})

    assert response.status_code == 409
    assert "initiatives" in response.json()["detail"]
