"""GET /v1/agreements/{id}/iati.xml and /v1/exports/iati.xml (SPEC section 14)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from lxml import etree

from services.api.app import create_app
from services.demo import MOU_REFERENCE, load_demo
from services.demo_records import minimal_pdf
from shared.iati.validation import validate
from shared.settings import Settings
from tests.conftest import client_for, make_key
from tests.exports.conftest import REPORTING_REF
from tests.factories import create_agreement, create_organization, transition

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def parsed(response: httpx.Response) -> etree._Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return etree.fromstring(response.content)


def activities(root: etree._Element) -> dict[str, etree._Element]:
    return {activity.findtext("iati-identifier"): activity for activity in root}


async def demo_agreement_id(client: httpx.AsyncClient, settings: Settings) -> str:
    await load_demo(settings)
    page = (await client.get("/v1/agreements", params={"q": MOU_REFERENCE})).json()
    return page["items"][0]["id"]


async def test_the_demo_agreement_export_validates_against_the_iati_schema(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    agreement_id = await demo_agreement_id(client, settings)
    response = await client.get(f"/v1/agreements/{agreement_id}/iati.xml")
    assert parsed(response) is not None
    assert validate(response.content) == []


async def test_the_demo_export_has_the_agreement_and_each_initiative_linked_both_ways(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    agreement_id = await demo_agreement_id(client, settings)
    root = parsed(await client.get(f"/v1/agreements/{agreement_id}/iati.xml"))
    parent_id = f"{REPORTING_REF}-{MOU_REFERENCE}"
    by_id = activities(root)
    parent = by_id.pop(parent_id)
    assert parent.get("hierarchy") == "1"
    children = {link.get("ref") for link in parent.findall("related-activity[@type='2']")}
    assert children == set(by_id) and children
    for identifier, child in by_id.items():
        assert child.get("hierarchy") == "2"
        assert identifier.startswith(parent_id + "-")
        assert [link.get("ref") for link in child.findall("related-activity[@type='1']")] == [
            parent_id
        ]


async def test_parties_become_participating_orgs_with_their_roles_and_iati_refs(
    client: httpx.AsyncClient,
) -> None:
    funder = await create_organization(client, country="GB", iati_ref="GB-GOV-1", kind="company")
    signatory = await create_organization(client, country="PK")
    partner = await create_organization(client, country="CN", kind="university")
    witness = await create_organization(client, country="PK")
    parties = [
        {"organization_id": funder["id"], "role": "funder"},
        {"organization_id": signatory["id"], "role": "signatory"},
        {"organization_id": partner["id"], "role": "implementing_partner"},
        {"organization_id": witness["id"], "role": "witness"},
    ]
    agreement = await create_agreement(client, parties=[funder], reference="MOU/2026/7")
    await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={"parties": parties},
        headers={"If-Match": f'"{agreement["version"]}"'},
    )
    root = parsed(await client.get(f"/v1/agreements/{agreement['id']}/iati.xml"))
    activity = root[0]
    assert activity.findtext("iati-identifier") == f"{REPORTING_REF}-MOU-2026-7"
    orgs = [
        (org.get("role"), org.get("ref"), org.get("type"))
        for org in activity.findall("participating-org")
    ]
    assert orgs == [
        ("1", "GB-GOV-1", "70"),
        ("2", None, "10"),
        ("4", None, "80"),
        ("3", None, "10"),
    ]
    countries = [country.get("code") for country in activity.findall("recipient-country")]
    assert countries == ["GB", "PK", "CN"]
    assert validate(etree.tostring(root)) == []


@pytest.mark.parametrize(
    ("moves", "code"),
    [([], "1"), (["negotiation", "signed"], "2"), (["negotiation", "cancelled"], "5")],
)
async def test_activity_status_follows_the_agreement_status(
    client: httpx.AsyncClient, moves: list[str], code: str
) -> None:
    agreement = await create_agreement(client, signed_on="2024-01-10", effective_from="2024-02-01")
    for target in moves:
        assert (await transition(client, agreement["id"], target)).status_code == 200
    root = parsed(await client.get(f"/v1/agreements/{agreement['id']}/iati.xml"))
    assert root[0].find("activity-status").get("code") == code


async def test_a_signed_agreement_has_an_actual_start_and_a_planned_end(
    client: httpx.AsyncClient,
) -> None:
    agreement = await create_agreement(
        client, signed_on="2024-01-10", effective_from="2024-02-01", expires_on="2029-02-01"
    )
    await transition(client, agreement["id"], "negotiation")
    await transition(client, agreement["id"], "signed")
    root = parsed(await client.get(f"/v1/agreements/{agreement['id']}/iati.xml"))
    dates = [(date.get("type"), date.get("iso-date")) for date in root[0].findall("activity-date")]
    assert dates == [("2", "2024-02-01"), ("3", "2029-02-01")]


async def test_every_narrative_carries_a_language(client: httpx.AsyncClient) -> None:
    agreement = await create_agreement(client)
    root = parsed(await client.get(f"/v1/agreements/{agreement['id']}/iati.xml"))
    narratives = list(root.iter("narrative"))
    assert narratives and all(narrative.get(XML_LANG) == "en" for narrative in narratives)


async def test_no_activity_declares_a_currency_since_no_money_appears(
    client: httpx.AsyncClient,
) -> None:
    agreement = await create_agreement(client)
    root = parsed(await client.get(f"/v1/agreements/{agreement['id']}/iati.xml"))
    assert all(activity.get("default-currency") is None for activity in root)


async def test_the_export_answers_409_while_the_reporting_org_is_unset(
    database_url: str, engine: Any
) -> None:
    app = create_app(Settings(database_url=database_url, environment="test", log_level="warning"))
    async with app.router.lifespan_context(app):
        key = await make_key(app, ["admin"])
        async with client_for(app, key) as client:
            agreement = await create_agreement(client)
            single = await client.get(f"/v1/agreements/{agreement['id']}/iati.xml")
            portfolio = await client.get("/v1/exports/iati.xml")
    for response in (single, portfolio):
        assert response.status_code == 409
        assert "ACCORDS_IATI_REPORTING_ORG_REF" in response.json()["detail"]


async def test_an_agreement_the_key_cannot_see_answers_404(
    app: Any, client: httpx.AsyncClient
) -> None:
    outsider = await create_organization(client)
    agreement = await create_agreement(client)
    key = await make_key(app, ["read"], organization_id=uuid.UUID(outsider["id"]))
    async with client_for(app, key) as bound:
        response = await bound.get(f"/v1/agreements/{agreement['id']}/iati.xml")
    assert response.status_code == 404


async def test_a_200_agreement_portfolio_export_validates_against_the_iati_schema(
    client: httpx.AsyncClient,
) -> None:
    parties = [
        await create_organization(client, country="PK"),
        await create_organization(client, country="CN"),
    ]
    for _ in range(200):
        await create_agreement(client, parties=parties)
    response = await client.get("/v1/exports/iati.xml")
    root = parsed(response)
    assert len(root) == 200
    assert validate(response.content) == []


async def test_the_portfolio_export_filters_by_status_and_organization(
    client: httpx.AsyncClient,
) -> None:
    stza = await create_organization(client)
    other = await create_organization(client)
    mine = await create_agreement(client, parties=[stza])
    await create_agreement(client, parties=[other])
    cancelled = await create_agreement(client, parties=[stza])
    await transition(client, cancelled["id"], "cancelled")
    response = await client.get(
        "/v1/exports/iati.xml", params={"organization_id": stza["id"], "status": "draft"}
    )
    assert list(activities(parsed(response))) == [f"{REPORTING_REF}-{mine['reference']}"]


async def test_an_org_bound_key_exports_only_its_agreements(
    app: Any, client: httpx.AsyncClient
) -> None:
    stza = await create_organization(client)
    mine = await create_agreement(client, parties=[stza])
    await create_agreement(client)
    key = await make_key(app, ["read"], organization_id=uuid.UUID(stza["id"]))
    async with client_for(app, key) as bound:
        response = await bound.get("/v1/exports/iati.xml")
    assert list(activities(parsed(response))) == [f"{REPORTING_REF}-{mine['reference']}"]


async def test_a_portfolio_export_matching_nothing_answers_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/exports/iati.xml", params={"status": "active"})
    assert response.status_code == 404


async def test_an_organization_iati_ref_is_validated(client: httpx.AsyncClient) -> None:
    refused = await client.post(
        "/v1/organizations",
        json={"name": "STZA", "kind": "government_agency", "country": "PK", "iati_ref": "PK/GOV 1"},
    )
    accepted = await create_organization(client, iati_ref="PK-GOV-STZA")
    assert refused.status_code == 422
    assert accepted["iati_ref"] == "PK-GOV-STZA"


async def test_documents_of_the_agreement_and_its_engagements_are_linked(
    client: httpx.AsyncClient,
) -> None:
    agreement = await create_agreement(client)
    engagement = await client.post(
        "/v1/engagements",
        json={
            "agreement_id": agreement["id"],
            "kind": "signing_ceremony",
            "title": "Signing at CIFTIS",
            "starts_on": "2023-09-04",
        },
    )
    uploads = [
        await client.post(
            "/v1/documents",
            data={
                "owner_type": owner_type,
                "owner_id": owner_id,
                "kind": kind,
                "language": "zh-Hans",
            },
            files={"file": ("copy.pdf", minimal_pdf(["Signed"]), "application/pdf")},
        )
        for owner_type, owner_id, kind in (
            ("agreement", agreement["id"], "signed_copy"),
            ("engagement", engagement.json()["id"], "minutes"),
        )
    ]
    assert all(upload.status_code == 201 for upload in uploads), [u.text for u in uploads]
    response = await client.get(f"/v1/agreements/{agreement['id']}/iati.xml")
    links = parsed(response)[0].findall("document-link")
    assert {link.get("url") for link in links} == {
        f"https://accords.example.org/v1/documents/{upload.json()['id']}/content"
        for upload in uploads
    }
    assert {link.find("category").get("code") for link in links} == {"A09", "A07"}
    assert {link.find("language").get("code") for link in links} == {"zh"}
    assert validate(response.content) == []
