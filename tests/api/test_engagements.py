from __future__ import annotations

import uuid

import pytest

from tests.api.tracking_factories import (
    create_engagement,
    create_initiative,
    create_milestone,
    engagement_body,
    events_of,
)
from tests.conftest import client_for, make_key
from tests.factories import Ref, create_agreement, create_organization, listed_ids, resolved


@pytest.fixture
async def agreement(client) -> dict:
    return await create_agreement(client)


async def test_record_a_delegation_visit(client, agreement) -> None:
    response = await client.post(
        "/v1/engagements",
        json=engagement_body(agreement, location="GEI office, Beijing", summary="Planning"),
    )

    assert response.status_code == 201, response.text
    engagement = response.json()
    assert engagement["kind"] == "delegation_visit"
    assert engagement["participant_organization_ids"] == [
        party["organization_id"] for party in agreement["parties"]
    ]
    assert engagement["outcomes"] == ["Agree a training curriculum"]
    assert response.headers["location"] == f"/v1/engagements/{engagement['id']}"


async def test_optional_fields_default_to_empty(client, agreement) -> None:
    body = {
        "agreement_id": agreement["id"],
        "kind": "meeting",
        "title": "Steering committee",
        "starts_on": "2024-01-10",
    }

    engagement = (await client.post("/v1/engagements", json=body)).json()

    assert engagement["participant_organization_ids"] == []
    assert engagement["outcomes"] == []
    assert engagement["host_organization_id"] is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "party"}, "kind"),
        ({"starts_on": "2024-02-01", "ends_on": "2024-01-31"}, "ends_on"),
        ({"host_organization_id": str(uuid.uuid4())}, "host_organization_id"),
        ({"participant_organization_ids": [str(uuid.uuid4())]}, "participant_organization_ids"),
        ({"agreement_id": str(uuid.uuid4())}, "agreement_id"),
        ({"outcomes": [""]}, "outcomes"),
    ],
)
async def test_invalid_engagement_answers_422(client, agreement, overrides, field) -> None:
    response = await client.post("/v1/engagements", json=engagement_body(agreement, **overrides))

    assert response.status_code == 422
    assert field in str(response.json())


async def test_the_same_participant_twice_answers_422(client, agreement) -> None:
    party = agreement["parties"][0]["organization_id"]

    response = await client.post(
        "/v1/engagements",
        json=engagement_body(agreement, participant_organization_ids=[party, party]),
    )

    assert response.status_code == 422


async def test_participants_need_not_be_parties(client, agreement) -> None:
    guest = await create_organization(client, country="DE")

    engagement = await create_engagement(
        client, agreement, participant_organization_ids=[guest["id"]]
    )

    assert engagement["participant_organization_ids"] == [guest["id"]]


async def test_patch_replaces_participants_and_outcomes(client, agreement) -> None:
    engagement = await create_engagement(client, agreement)
    guest = await create_organization(client)

    response = await client.patch(
        f"/v1/engagements/{engagement['id']}",
        json={"participant_organization_ids": [guest["id"]], "outcomes": ["A", "B"]},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 200, response.text
    assert response.json()["participant_organization_ids"] == [guest["id"]]
    assert response.json()["outcomes"] == ["A", "B"]
    assert response.headers["etag"] == '"2"'


async def test_patch_checks_dates_against_stored_values(client, agreement) -> None:
    engagement = await create_engagement(client, agreement, starts_on="2024-03-01")

    response = await client.patch(
        f"/v1/engagements/{engagement['id']}",
        json={"ends_on": "2024-02-01"},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 422


async def test_agreement_cannot_be_patched(client, agreement) -> None:
    engagement = await create_engagement(client, agreement)
    other = await create_agreement(client)

    response = await client.patch(
        f"/v1/engagements/{engagement['id']}",
        json={"agreement_id": other["id"]},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 422


async def test_events_recorded_updated_deleted(client, app, agreement) -> None:
    engagement = await create_engagement(client, agreement)
    await client.patch(
        f"/v1/engagements/{engagement['id']}", json={"title": "x"}, headers={"If-Match": '"1"'}
    )
    await client.delete(f"/v1/engagements/{engagement['id']}", headers={"If-Match": '"2"'})

    assert [event for event, _ in await events_of(app, prefix="engagement.")] == [
        "engagement.recorded",
        "engagement.updated",
        "engagement.deleted",
    ]


async def test_an_engagement_that_decided_milestones_cannot_be_deleted(client, agreement) -> None:
    engagement = await create_engagement(client, agreement)
    initiative = await create_initiative(client, agreement)
    await create_milestone(client, initiative["id"], engagement_id=engagement["id"])

    response = await client.delete(
        f"/v1/engagements/{engagement['id']}", headers={"If-Match": '"1"'}
    )

    assert response.status_code == 409


async def test_an_agreement_with_engagements_cannot_be_deleted(client, agreement) -> None:
    await create_engagement(client, agreement)

    response = await client.delete(f"/v1/agreements/{agreement['id']}", headers={"If-Match": '"1"'})

    assert response.status_code == 409


@pytest.fixture
async def filtered(client, agreement) -> dict[str, dict]:
    """Two engagements under different agreements, of different kinds, dates and guests."""
    other = await create_agreement(client)
    guest = await create_organization(client)
    visit = await create_engagement(client, agreement, starts_on="2023-10-10")
    workshop = await create_engagement(
        client,
        other,
        kind="workshop",
        starts_on="2024-05-01",
        host_organization_id=None,
        participant_organization_ids=[guest["id"]],
    )
    return {"visit": visit, "workshop": workshop, "other": other, "guest": guest}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({}, ["visit", "workshop"], id="none"),
        pytest.param({"agreement_id": Ref("other")}, ["workshop"], id="agreement_id"),
        pytest.param({"kind": "delegation_visit"}, ["visit"], id="kind"),
        pytest.param({"organization_id": Ref("guest")}, ["workshop"], id="organization_id"),
        pytest.param({"starts_after": "2024-01-01"}, ["workshop"], id="starts_after"),
        pytest.param({"starts_before": "2024-01-01"}, ["visit"], id="starts_before"),
    ],
)
async def test_a_filter_lists_only_the_matching_engagements(
    client, filtered, params, expected
) -> None:
    ids = await listed_ids(client, "/v1/engagements", resolved(params, filtered))

    assert ids == [filtered[name]["id"] for name in expected]


async def test_pages_with_cursor_cover_every_engagement_once(client, agreement) -> None:
    created = [(await create_engagement(client, agreement))["id"] for _ in range(5)]

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/engagements", params=params)).json()
        seen.extend(engagement["id"] for engagement in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == created


async def test_an_organization_bound_key_cannot_record_under_another_agreement(
    app, client, agreement
) -> None:
    outsider = await create_agreement(client)
    key = await make_key(
        app, ["write", "read"], organization_id=uuid.UUID(outsider["parties"][0]["organization_id"])
    )
    engagement = await create_engagement(client, agreement)

    async with client_for(app, key) as bound:
        created = await bound.post("/v1/engagements", json=engagement_body(agreement))
        fetched = await bound.get(f"/v1/engagements/{engagement['id']}")

    assert created.status_code == 422
    assert fetched.status_code == 404


async def test_an_organization_that_hosted_an_engagement_cannot_be_deleted(
    client, agreement
) -> None:
    host = await create_organization(client)
    await create_engagement(client, agreement, host_organization_id=host["id"])

    response = await client.delete(f"/v1/organizations/{host['id']}", headers={"If-Match": '"1"'})

    assert response.status_code == 409
    assert "host of an engagement" in response.json()["detail"]
