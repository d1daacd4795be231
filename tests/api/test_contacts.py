from __future__ import annotations

import uuid

import pytest

from tests.api.legal_factories import contact_body, create_contact, put_focal_points
from tests.api.tracking_factories import events_of
from tests.conftest import client_for, make_key
from tests.factories import create_agreement, create_organization


@pytest.fixture
async def organization(client) -> dict:
    return await create_organization(client)


async def test_add_a_contact_to_an_organization(client, organization) -> None:
    response = await client.post(
        f"/v1/organizations/{organization['id']}/contacts",
        json=contact_body(name="Ayesha Khan", email="ayesha.khan@stza.gov.pk", languages=["en"]),
    )

    assert response.status_code == 201, response.text
    contact = response.json()
    assert contact["organization_id"] == organization["id"]
    assert (contact["name"], contact["email"], contact["languages"]) == (
        "Ayesha Khan",
        "ayesha.khan@stza.gov.pk",
        ["en"],
    )
    assert response.headers["location"] == f"/v1/contacts/{contact['id']}"
    assert response.headers["etag"] == '"1"'


async def test_title_phone_and_languages_are_optional(client, organization) -> None:
    response = await client.post(
        f"/v1/organizations/{organization['id']}/contacts",
        json={"name": "Li Wei", "email": "li.wei@gei.example.cn"},
    )

    assert response.status_code == 201, response.text
    assert response.json()["languages"] == []
    assert response.json()["phone"] is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"languages": ["english"]}, "languages"),
        ({"languages": ["en_US"]}, "languages"),
        ({"languages": ["en", "en"]}, "languages"),
        ({"phone": "call me"}, "phone"),
        ({"name": ""}, "name"),
        ({"nickname": "x"}, "nickname"),
    ],
)
async def test_invalid_contact_answers_422(client, organization, overrides, field) -> None:
    response = await client.post(
        f"/v1/organizations/{organization['id']}/contacts", json=contact_body(**overrides)
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in str(response.json()["errors"])


async def test_bcp47_tags_with_script_and_region_are_accepted(client, organization) -> None:
    contact = await create_contact(
        client, organization["id"], languages=["zh-Hans", "ur-PK", "de-CH-1996", "es-419"]
    )

    assert contact["languages"] == ["zh-Hans", "ur-PK", "de-CH-1996", "es-419"]


async def test_a_contact_of_an_unknown_organization_answers_404(client) -> None:
    response = await client.post(f"/v1/organizations/{uuid.uuid4()}/contacts", json=contact_body())

    assert response.status_code == 404


async def test_contacts_filter_by_organization_and_search_term(client, organization) -> None:
    other = await create_organization(client)
    ayesha = await create_contact(client, organization["id"], name="Ayesha Khan")
    await create_contact(client, organization["id"], name="Bilal Ahmed")
    await create_contact(client, other["id"], name="Ayesha Other")

    listed = await client.get(
        "/v1/contacts", params={"organization_id": organization["id"], "q": "ayesha"}
    )

    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [ayesha["id"]]


async def test_contacts_search_matches_email(client, organization) -> None:
    contact = await create_contact(client, organization["id"], email="focal@stza.gov.pk")

    listed = await client.get("/v1/contacts", params={"q": "STZA.GOV"})

    assert [item["id"] for item in listed.json()["items"]] == [contact["id"]]


async def test_contacts_page_with_a_cursor(client, organization) -> None:
    created = [await create_contact(client, organization["id"]) for _ in range(3)]

    first = (await client.get("/v1/contacts", params={"limit": 2})).json()
    second = (
        await client.get("/v1/contacts", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()

    assert [item["id"] for item in first["items"] + second["items"]] == [c["id"] for c in created]
    assert second["next_cursor"] is None


async def test_update_a_contact_with_if_match(client, organization) -> None:
    contact = await create_contact(client, organization["id"])

    response = await client.patch(
        f"/v1/contacts/{contact['id']}",
        json={"title": "Deputy Director"},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Deputy Director"
    assert response.json()["version"] == 2


async def test_update_without_if_match_answers_428_and_stale_412(client, organization) -> None:
    contact = await create_contact(client, organization["id"])
    path = f"/v1/contacts/{contact['id']}"

    missing = await client.patch(path, json={"title": "X"})
    stale = await client.patch(path, json={"title": "X"}, headers={"If-Match": '"7"'})

    assert (missing.status_code, stale.status_code) == (428, 412)


async def test_email_cannot_be_nulled(client, organization) -> None:
    contact = await create_contact(client, organization["id"])

    response = await client.patch(
        f"/v1/contacts/{contact['id']}", json={"email": None}, headers={"If-Match": '"1"'}
    )

    assert response.status_code == 422


async def test_delete_a_contact(client, organization) -> None:
    contact = await create_contact(client, organization["id"])

    deleted = await client.delete(f"/v1/contacts/{contact['id']}", headers={"If-Match": '"1"'})

    assert deleted.status_code == 204
    assert (await client.get(f"/v1/contacts/{contact['id']}")).status_code == 404


async def test_a_contact_named_as_focal_point_cannot_be_deleted(client) -> None:
    agreement = await create_agreement(client)
    contact = await create_contact(client, agreement["parties"][0]["organization_id"])
    assert (
        await put_focal_points(client, agreement["id"], [(contact["id"], "focal_point")])
    ).status_code == 200

    response = await client.delete(f"/v1/contacts/{contact['id']}", headers={"If-Match": '"1"'})

    assert response.status_code == 409
    assert agreement["reference"] in response.json()["detail"]
    assert response.json()["agreements"] == [agreement["reference"]]


async def test_an_organization_with_contacts_cannot_be_deleted(client, organization) -> None:
    await create_contact(client, organization["id"])

    response = await client.delete(
        f"/v1/organizations/{organization['id']}", headers={"If-Match": '"1"'}
    )

    assert response.status_code == 409
    assert "contact" in response.json()["detail"]


async def test_contact_changes_are_events_of_the_organization(client, app, organization) -> None:
    contact = await create_contact(client, organization["id"])
    await client.patch(
        f"/v1/contacts/{contact['id']}", json={"phone": None}, headers={"If-Match": '"1"'}
    )
    await client.delete(f"/v1/contacts/{contact['id']}", headers={"If-Match": '"2"'})

    events = await events_of(app, prefix="contact.")

    assert [event_type for event_type, _ in events] == [
        "contact.created",
        "contact.updated",
        "contact.deleted",
    ]
    assert all(data["organization_id"] == organization["id"] for _, data in events)


async def test_the_audit_log_keeps_the_contact(client, organization) -> None:
    contact = await create_contact(client, organization["id"], email="kept@stza.gov.pk")

    entries = (await client.get("/v1/audit-log", params={"entity_id": contact["id"]})).json()

    assert entries["items"][0]["after"]["email"] == "kept@stza.gov.pk"


async def test_listing_contacts_needs_the_read_scope(app, organization) -> None:
    key = await make_key(app, ["webhooks"])
    async with client_for(app, key) as webhooks_only:
        response = await webhooks_only.get("/v1/contacts")

    assert response.status_code == 403


async def test_a_bound_key_sees_contacts_of_its_partners_and_its_own(client, app) -> None:
    ours, partner, stranger = [await create_organization(client) for _ in range(3)]
    await create_agreement(client, parties=[ours, partner])
    own = await create_contact(client, ours["id"])
    partners = await create_contact(client, partner["id"])
    strangers = await create_contact(client, stranger["id"])
    key = await make_key(app, ["read", "write"], organization_id=uuid.UUID(ours["id"]))

    async with client_for(app, key) as bound:
        listed = (await bound.get("/v1/contacts")).json()
        hidden = await bound.get(f"/v1/contacts/{strangers['id']}")

    assert [item["id"] for item in listed["items"]] == [own["id"], partners["id"]]
    assert hidden.status_code == 404


async def test_a_bound_key_changes_only_its_own_organizations_contacts(client, app) -> None:
    ours = await create_organization(client)
    partner = await create_organization(client)
    await create_agreement(client, parties=[ours, partner])
    partners = await create_contact(client, partner["id"])
    key = await make_key(app, ["read", "write"], organization_id=uuid.UUID(ours["id"]))

    async with client_for(app, key) as bound:
        create = await bound.post(
            f"/v1/organizations/{partner['id']}/contacts", json=contact_body()
        )
        change = await bound.patch(
            f"/v1/contacts/{partners['id']}", json={"title": "X"}, headers={"If-Match": '"1"'}
        )
        own = await bound.post(f"/v1/organizations/{ours['id']}/contacts", json=contact_body())

    assert (create.status_code, change.status_code, own.status_code) == (403, 403, 201)
