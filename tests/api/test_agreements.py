from __future__ import annotations

import uuid

import pytest

from tests.factories import (
    Ref,
    agreement_body,
    create_agreement,
    create_organization,
    listed_ids,
    resolved,
)


@pytest.fixture
async def parties(client) -> list[dict]:
    return [
        await create_organization(client, country="PK"),
        await create_organization(client, country="CN", kind="research_institute"),
    ]


async def test_create_starts_in_draft_with_parties_in_order(client, parties) -> None:
    body = agreement_body([party["id"] for party in parties], signed_at="CIFTIS, Beijing")

    response = await client.post("/v1/agreements", json=body)

    assert response.status_code == 201
    agreement = response.json()
    assert agreement["status"] == "draft"
    assert [party["organization_id"] for party in agreement["parties"]] == [
        party["id"] for party in parties
    ]
    assert response.headers["location"] == f"/v1/agreements/{agreement['id']}"


async def test_defaults_for_focus_areas_and_objectives_are_empty(client, parties) -> None:
    body = agreement_body([parties[0]["id"]])
    del body["focus_areas"], body["objectives"]

    agreement = (await client.post("/v1/agreements", json=body)).json()

    assert agreement["focus_areas"] == []
    assert agreement["objectives"] == []


async def test_duplicate_reference_answers_409(client, parties) -> None:
    body = agreement_body([parties[0]["id"]], reference="STZA-GEI-1")
    await client.post("/v1/agreements", json=body)

    response = await client.post(
        "/v1/agreements", json=agreement_body([parties[1]["id"]], reference="STZA-GEI-1")
    )

    assert response.status_code == 409
    assert "STZA-GEI-1" in response.json()["detail"]


async def test_unknown_party_answers_422_naming_it(client, parties) -> None:
    ghost = str(uuid.uuid4())
    body = agreement_body([parties[0]["id"], ghost])

    response = await client.post("/v1/agreements", json=body)

    assert response.status_code == 422
    assert ghost in response.json()["detail"]
    assert response.json()["errors"][0]["loc"] == ["body", "parties", 1, "organization_id"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"objectives": [{"ref": "O1", "text": "a"}, {"ref": "O1", "text": "b"}]}, "objectives"),
        ({"effective_from": "2024-01-01", "expires_on": "2023-01-01"}, "expires_on"),
        ({"effective_from": "2024-01-01", "expires_on": "2024-01-01"}, "expires_on"),
        ({"parties": []}, "parties"),
        ({"instrument_type": "handshake"}, "instrument_type"),
        ({"legal_character": "sort_of"}, "legal_character"),
        ({"signed_on": "2024-02-30"}, "signed_on"),
    ],
)
async def test_invalid_agreement_answers_422(client, parties, overrides, field) -> None:
    body = agreement_body([party["id"] for party in parties], **overrides)

    response = await client.post("/v1/agreements", json=body)

    assert response.status_code == 422
    assert field in str(response.json()["errors"])


async def test_same_organization_twice_answers_422(client, parties) -> None:
    body = agreement_body([parties[0]["id"], parties[0]["id"]])

    response = await client.post("/v1/agreements", json=body)

    assert response.status_code == 422


@pytest.fixture
async def filtered(client) -> dict[str, dict]:
    """Two agreements that differ in every field a filter looks at."""
    pk = await create_organization(client, country="PK")
    cn = await create_organization(client, country="CN")
    de = await create_organization(client, country="DE")
    first = await create_agreement(
        client,
        [pk, cn],
        focus_areas=["special technology zones"],
        summary="Strategic planning for zones",
        expires_on="2027-01-01",
    )
    second = await create_agreement(
        client, [de], instrument_type="treaty", legal_character="binding"
    )
    return {"first": first, "second": second, "de": de}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"country": "CN"}, ["first"], id="country"),
        pytest.param({"organization_id": Ref("de")}, ["second"], id="organization_id"),
        pytest.param({"instrument_type": "treaty"}, ["second"], id="instrument_type"),
        pytest.param({"focus_area": "special technology zones"}, ["first"], id="focus_area"),
        pytest.param({"q": "STRATEGIC"}, ["first"], id="q-ignores-case"),
        pytest.param({"expires_before": "2027-06-01"}, ["first"], id="expires_before"),
        pytest.param({"status": "draft"}, ["first", "second"], id="status-matching-both"),
        pytest.param({"status": "active"}, [], id="status-matching-none"),
    ],
)
async def test_a_filter_lists_only_the_matching_agreements(
    client, filtered, params, expected
) -> None:
    ids = await listed_ids(client, "/v1/agreements", resolved(params, filtered))

    assert ids == [filtered[name]["id"] for name in expected]


async def test_pages_with_cursor_cover_every_agreement_once(client, parties) -> None:
    created = [(await create_agreement(client, parties))["id"] for _ in range(5)]

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/agreements", params=params)).json()
        seen.extend(agreement["id"] for agreement in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == created


@pytest.mark.parametrize("limit", [0, 201])
async def test_a_limit_outside_1_to_200_answers_422_naming_limit(client, limit) -> None:
    response = await client.get("/v1/agreements", params={"limit": limit})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["loc"] for error in response.json()["errors"]] == [["query", "limit"]]


async def test_a_cursor_this_api_never_gave_out_answers_400(client) -> None:
    # Not a schema mismatch (any string is a cursor's shape): a token the API did not issue.
    response = await client.get("/v1/agreements", params={"cursor": "!!nonsense!!"})

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "https://accords.dev/problems/invalid-cursor"


async def test_patch_replaces_parties_while_in_draft(client, parties) -> None:
    agreement = await create_agreement(client, parties)
    third = await create_organization(client, country="DE")

    response = await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={"parties": [{"organization_id": third["id"], "role": "funder"}]},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 200, response.text
    assert response.json()["parties"] == [
        {
            "organization_id": third["id"],
            "role": "funder",
            "signed_on": None,
            "consented_on": None,
            "withdrawn_on": None,
        }
    ]
    assert response.json()["version"] == 2


async def test_patch_checks_date_order_against_stored_values(client, parties) -> None:
    agreement = await create_agreement(client, parties, effective_from="2024-01-01")

    response = await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={"expires_on": "2023-12-31"},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 422


async def test_patch_to_a_taken_reference_answers_409(client, parties) -> None:
    await create_agreement(client, parties, reference="TAKEN")
    agreement = await create_agreement(client, parties)

    response = await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={"reference": "TAKEN"},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 409


async def test_status_cannot_be_patched(client, parties) -> None:
    agreement = await create_agreement(client, parties)

    response = await client.patch(
        f"/v1/agreements/{agreement['id']}", json={"status": "active"}, headers={"If-Match": '"1"'}
    )

    assert response.status_code == 422


async def test_unknown_agreement_answers_404_problem(client) -> None:
    response = await client.get(f"/v1/agreements/{uuid.uuid4()}")

    assert response.status_code == 404
    assert response.json()["status"] == 404


async def test_malformed_id_answers_422(client) -> None:
    response = await client.get("/v1/agreements/not-a-uuid")

    assert response.status_code == 422


async def test_a_page_lists_exactly_what_create_answered(client, parties) -> None:
    ids = [party["id"] for party in parties]
    created = [
        (await client.post("/v1/agreements", json=agreement_body(order, summary=f"No. {n}"))).json()
        for n, order in enumerate([ids, list(reversed(ids))])
    ]

    page = (await client.get("/v1/agreements", params={"limit": 1})).json()
    rest = (await client.get("/v1/agreements", params={"cursor": page["next_cursor"]})).json()

    assert page["items"] + rest["items"] == created
    assert rest["next_cursor"] is None


async def test_get_answers_exactly_what_create_answered(client, parties) -> None:
    body = agreement_body(
        [party["id"] for party in parties],
        summary="Both read paths",
        signed_on="2023-09-04",
        effective_from="2023-09-04",
        expires_on="2028-09-03",
        signed_at="CIFTIS, Beijing",
    )
    created = (await client.post("/v1/agreements", json=body)).json()

    fetched = await client.get(f"/v1/agreements/{created['id']}")

    assert fetched.json() == created
    assert fetched.headers["etag"] == '"1"'
