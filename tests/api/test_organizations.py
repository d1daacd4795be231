from __future__ import annotations

import pytest

from tests.factories import create_agreement, create_organization, listed_ids, organization_body


async def test_create_returns_201_with_location_and_etag(client) -> None:
    response = await client.post("/v1/organizations", json=organization_body(country="cn"))

    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/v1/organizations/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert body["country"] == "CN"
    assert body["version"] == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("country", "XX"),
        ("country", "PAK"),
        ("kind", "club"),
        ("ror_id", "https://ror.org/12345678"),
        ("ror_id", "05dxps055"),
        ("website", "not a url"),
        ("name", "   "),
    ],
)
async def test_invalid_fields_answer_422_naming_the_field(client, field, value) -> None:
    response = await client.post("/v1/organizations", json=organization_body(**{field: value}))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert any(error["loc"][-1] == field for error in response.json()["errors"])


async def test_valid_ror_id_is_accepted(client) -> None:
    organization = await create_organization(client, ror_id="https://ror.org/05dxps055")

    assert organization["ror_id"] == "https://ror.org/05dxps055"


async def test_unknown_field_is_refused(client) -> None:
    response = await client.post("/v1/organizations", json=organization_body(colour="blue"))

    assert response.status_code == 422


@pytest.fixture
async def filtered(client) -> dict[str, dict]:
    """STZA (a Pakistani agency) and GEI (a Chinese research institute)."""
    return {
        "STZA": await create_organization(
            client, name="Special Technology Zones Authority", acronym="STZA"
        ),
        "GEI": await create_organization(
            client,
            name="Great Wall Enterprise Institute",
            acronym="GEI",
            country="CN",
            kind="research_institute",
        ),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"country": "cn"}, ["GEI"], id="country-ignores-case"),
        pytest.param({"kind": "government_agency"}, ["STZA"], id="kind"),
        pytest.param({"q": "gei"}, ["GEI"], id="q-on-acronym"),
        pytest.param({"q": "zones"}, ["STZA"], id="q-on-name"),
        pytest.param({"q": "%"}, [], id="q-percent-is-literal"),
        pytest.param({"q": "g_i"}, [], id="q-underscore-is-literal"),
    ],
)
async def test_a_filter_lists_only_the_matching_organizations(
    client, filtered, params, expected
) -> None:
    ids = await listed_ids(client, "/v1/organizations", params)

    assert ids == [filtered[name]["id"] for name in expected]


async def test_patch_changes_fields_and_bumps_version(client) -> None:
    organization = await create_organization(client)

    response = await client.patch(
        f"/v1/organizations/{organization['id']}",
        json={"acronym": "NEW", "website": "https://example.org/"},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 200
    assert response.json()["acronym"] == "NEW"
    assert response.json()["version"] == 2
    assert response.headers["etag"] == '"2"'


async def test_patch_refuses_null_for_a_required_field(client) -> None:
    organization = await create_organization(client)

    response = await client.patch(
        f"/v1/organizations/{organization['id']}", json={"name": None}, headers={"If-Match": '"1"'}
    )

    assert response.status_code == 422


async def test_delete_of_a_party_answers_409(client) -> None:
    agreement = await create_agreement(client)
    party_id = agreement["parties"][0]["organization_id"]

    response = await client.delete(f"/v1/organizations/{party_id}", headers={"If-Match": '"1"'})

    assert response.status_code == 409
    assert (await client.get(f"/v1/organizations/{party_id}")).status_code == 200


async def test_delete_answers_204_then_404(client) -> None:
    organization = await create_organization(client)

    deleted = await client.delete(
        f"/v1/organizations/{organization['id']}", headers={"If-Match": '"1"'}
    )
    fetched = await client.get(f"/v1/organizations/{organization['id']}")

    assert deleted.status_code == 204
    assert fetched.status_code == 404
