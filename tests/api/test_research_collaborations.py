from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from shared.models import OutboxEvent
from tests.api.tracking_factories import create_research, events_of, research_body
from tests.conftest import client_for, make_key
from tests.factories import Ref, create_agreement, create_organization, listed_ids, resolved

VALID_ORCID = "0000-0002-1825-0097"


@pytest.fixture
async def organizations(client) -> list[str]:
    return [
        (await create_organization(client, country="PK"))["id"],
        (await create_organization(client, country="CN", kind="research_institute"))["id"],
    ]


def researcher(organization_id: str, **overrides) -> dict:
    body = {
        "name": "Josiah Carberry",
        "orcid": VALID_ORCID,
        "organization_id": organization_id,
        "role": "principal investigator",
    }
    body.update(overrides)
    return body


async def test_create_defaults_to_proposed_with_empty_lists(client, organizations) -> None:
    response = await client.post("/v1/research-collaborations", json=research_body(organizations))

    assert response.status_code == 201, response.text
    collaboration = response.json()
    assert collaboration["status"] == "proposed"
    assert collaboration["agreement_id"] is None
    assert collaboration["researchers"] == []
    assert collaboration["outputs"] == []
    assert collaboration["participants"][0] == {"organization_id": organizations[0], "role": "lead"}
    assert response.headers["location"] == f"/v1/research-collaborations/{collaboration['id']}"


async def test_researchers_and_outputs_can_be_given_on_create(client, organizations) -> None:
    collaboration = await create_research(
        client,
        organizations,
        researchers=[researcher(organizations[1])],
        outputs=[{"kind": "report", "title": "Zones baseline", "doi": "10.1000/xyz123"}],
    )

    assert collaboration["researchers"][0]["orcid"] == VALID_ORCID
    assert collaboration["outputs"][0]["doi"] == "10.1000/xyz123"
    assert collaboration["outputs"][0]["id"]


@pytest.mark.parametrize(
    "roles",
    [["partner", "partner"], ["lead", "lead"], ["funder"]],
)
async def test_exactly_one_lead_is_required(client, organizations, roles) -> None:
    participants = [
        {"organization_id": organization_id, "role": role}
        for organization_id, role in zip(organizations, roles, strict=False)
    ]

    response = await client.post(
        "/v1/research-collaborations", json=research_body(organizations, participants=participants)
    )

    assert response.status_code == 422
    assert "lead" in str(response.json()["errors"])


async def test_an_orcid_with_a_bad_check_digit_answers_422(client, organizations) -> None:
    body = research_body(
        organizations, researchers=[researcher(organizations[0], orcid="0000-0002-1825-0098")]
    )

    response = await client.post("/v1/research-collaborations", json=body)

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][:4] == ["body", "researchers", 0, "orcid"]


async def test_a_researcher_must_belong_to_a_participant(client, organizations) -> None:
    outsider = await create_organization(client)
    body = research_body(organizations, researchers=[researcher(outsider["id"])])

    response = await client.post("/v1/research-collaborations", json=body)

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "researchers", 0, "organization_id"]


async def test_an_unknown_participant_answers_422(client, organizations) -> None:
    body = research_body([organizations[0], str(uuid.uuid4())])

    response = await client.post("/v1/research-collaborations", json=body)

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "participants", 1, "organization_id"]


async def test_an_unknown_agreement_answers_422(client, organizations) -> None:
    body = research_body(organizations, agreement_id=str(uuid.uuid4()))

    response = await client.post("/v1/research-collaborations", json=body)

    assert response.status_code == 422


@pytest.mark.parametrize(
    "output",
    [
        {"kind": "report", "title": "x", "doi": "10.12/too-short"},
        {"kind": "report", "title": "x", "doi": "https://doi.org/10.1000/xyz"},
        {"kind": "blog_post", "title": "x"},
        {"kind": "report", "title": "x", "url": "ftp://example.org/x"},
    ],
)
async def test_invalid_output_answers_422(client, organizations, output) -> None:
    collaboration = await create_research(client, organizations)

    response = await client.post(
        f"/v1/research-collaborations/{collaboration['id']}/outputs", json=output
    )

    assert response.status_code == 422


async def test_adding_an_output_answers_the_collaboration_and_emits_output_added(
    client, app, organizations
) -> None:
    collaboration = await create_research(client, organizations)

    response = await client.post(
        f"/v1/research-collaborations/{collaboration['id']}/outputs",
        json={"kind": "policy_brief", "title": "Zones strategy", "doi": "10.5281/zenodo.1234"},
    )

    assert response.status_code == 201, response.text
    assert [output["title"] for output in response.json()["outputs"]] == ["Zones strategy"]
    assert response.headers["etag"] == '"2"'
    [(_, data)] = await events_of(app, prefix="research_collaboration.output_added")
    assert data["output"]["doi"] == "10.5281/zenodo.1234"


async def test_status_moves_by_patch_and_emits_status_changed(client, app, organizations) -> None:
    collaboration = await create_research(client, organizations)

    response = await client.patch(
        f"/v1/research-collaborations/{collaboration['id']}",
        json={"status": "active"},
        headers={"If-Match": '"1"'},
    )

    assert response.json()["status"] == "active"
    [(_, data)] = await events_of(app, prefix="research_collaboration.status_changed")
    assert data["previous_status"] == "proposed"


async def test_a_concluded_collaboration_cannot_reopen(client, organizations) -> None:
    collaboration = await create_research(client, organizations, status="active")
    await client.patch(
        f"/v1/research-collaborations/{collaboration['id']}",
        json={"status": "concluded"},
        headers={"If-Match": '"1"'},
    )

    response = await client.patch(
        f"/v1/research-collaborations/{collaboration['id']}",
        json={"status": "active"},
        headers={"If-Match": '"2"'},
    )

    assert response.status_code == 409
    assert response.json()["allowed"] == []


async def test_patching_participants_rechecks_researchers(client, organizations) -> None:
    collaboration = await create_research(
        client, organizations, researchers=[researcher(organizations[1])]
    )

    response = await client.patch(
        f"/v1/research-collaborations/{collaboration['id']}",
        json={"participants": [{"organization_id": organizations[0], "role": "lead"}]},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 422


async def test_patch_replaces_researchers(client, organizations) -> None:
    collaboration = await create_research(client, organizations)

    response = await client.patch(
        f"/v1/research-collaborations/{collaboration['id']}",
        json={"researchers": [researcher(organizations[0], orcid=None)]},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 200, response.text
    assert response.json()["researchers"][0]["orcid"] is None
    assert response.headers["etag"] == '"2"'


async def test_a_standalone_collaboration_is_its_own_aggregate(client, app, organizations) -> None:
    collaboration = await create_research(client, organizations)

    async with app.state.sessionmaker() as session:
        event = (
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.type == "research_collaboration.created")
            )
        ).one()
    assert (event.aggregate_type, str(event.aggregate_id)) == (
        "research_collaboration",
        collaboration["id"],
    )


async def test_one_under_an_agreement_writes_on_the_agreement_stream(client, app) -> None:
    agreement = await create_agreement(client)
    parties = [party["organization_id"] for party in agreement["parties"]]
    await create_research(client, parties, agreement_id=agreement["id"])

    async with app.state.sessionmaker() as session:
        event = (
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.type == "research_collaboration.created")
            )
        ).one()
    assert (event.aggregate_type, str(event.aggregate_id), event.sequence) == (
        "agreement",
        agreement["id"],
        2,
    )


@pytest.fixture
async def filtered(client, organizations) -> dict[str, dict]:
    """A standalone collaboration and an active one under an agreement."""
    agreement = await create_agreement(client)
    parties = [party["organization_id"] for party in agreement["parties"]]
    return {
        "agreement": agreement,
        "partner": {"id": organizations[1]},
        "standalone": await create_research(client, organizations, research_area="materials"),
        "under": await create_research(
            client, parties, agreement_id=agreement["id"], status="active"
        ),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({}, ["standalone", "under"], id="none"),
        pytest.param({"agreement_id": Ref("agreement")}, ["under"], id="agreement_id"),
        pytest.param({"status": "active"}, ["under"], id="status"),
        pytest.param({"organization_id": Ref("partner")}, ["standalone"], id="organization_id"),
        pytest.param({"q": "MATERIALS"}, ["standalone"], id="q-ignores-case"),
    ],
)
async def test_a_filter_lists_only_the_matching_collaborations(
    client, filtered, params, expected
) -> None:
    ids = await listed_ids(client, "/v1/research-collaborations", resolved(params, filtered))

    assert ids == [filtered[name]["id"] for name in expected]


async def test_delete_answers_204_then_404(client, organizations) -> None:
    collaboration = await create_research(
        client, organizations, researchers=[researcher(organizations[0])]
    )

    deleted = await client.delete(
        f"/v1/research-collaborations/{collaboration['id']}", headers={"If-Match": '"1"'}
    )
    fetched = await client.get(f"/v1/research-collaborations/{collaboration['id']}")

    assert deleted.status_code == 204
    assert fetched.status_code == 404


async def test_an_organization_bound_key_sees_what_its_organization_takes_part_in(
    app, client, organizations
) -> None:
    mine = await create_research(client, organizations)
    others = await create_research(
        client, [(await create_organization(client))["id"]], title="Elsewhere"
    )
    key = await make_key(app, ["read"], organization_id=uuid.UUID(organizations[1]))

    async with client_for(app, key) as bound:
        listed = (await bound.get("/v1/research-collaborations")).json()["items"]
        hidden = await bound.get(f"/v1/research-collaborations/{others['id']}")

    assert [collaboration["id"] for collaboration in listed] == [mine["id"]]
    assert hidden.status_code == 404
