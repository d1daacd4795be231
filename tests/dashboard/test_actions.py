"""Actions from the pages go through the /v1 services: same rules, events, audit."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from shared.models import AuditEntry
from tests.api.tracking_factories import (
    active_agreement,
    create_initiative,
    create_milestone,
    events_of,
)
from tests.conftest import make_key
from tests.dashboard.browsing import post_form, signed_in
from tests.factories import create_agreement, create_organization, transition


async def _key_id(client, key: str) -> str:  # type: ignore[no-untyped-def]
    keys = (await client.get("/v1/api-keys")).json()["items"]
    return next(item["id"] for item in keys if key.startswith(item["key_prefix"]))


async def test_marking_a_milestone_done_records_the_event_and_the_audit_row(app, client) -> None:
    agreement = await active_agreement(client)
    initiative = await create_initiative(client, agreement)
    milestone = await create_milestone(client, initiative["id"])
    key = await make_key(app, ["write"])
    page = f"/app/agreements/{agreement['id']}"
    async with signed_in(app, key) as browsing:
        response = await post_form(
            browsing, page, f"/app/milestones/{milestone['id']}/done", {"version": "1"}
        )
        assert response.status_code == 303
        assert response.headers["location"].startswith(page)
        shown = (await browsing.get(response.headers["location"])).text
    assert "The milestone is marked done" in shown
    assert (await client.get(f"/v1/milestones/{milestone['id']}")).json()["status"] == "done"
    assert "milestone.completed" in [kind for kind, _ in await events_of(app, prefix="milestone.")]
    async with app.state.sessionmaker() as session:
        audit = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity_id == uuid.UUID(milestone["id"]))
                # In the order they were written (heap order is not).
                .order_by(AuditEntry.at, AuditEntry.id)
            )
        ).all()
    last = audit[-1]
    assert str(last.api_key_id) == await _key_id(client, key)
    assert last.request_id


async def test_a_refused_transition_shows_the_rules_message_and_changes_nothing(
    app, client
) -> None:
    first = await create_organization(client)
    second = await create_organization(client, country="CN")
    response = await client.post(
        "/v1/agreements",
        json={
            "reference": "ONE-SIGNATORY",
            "title": "Letter with one signatory",
            "instrument_type": "mou",
            "legal_character": "non_binding",
            "parties": [
                {"organization_id": first["id"], "role": "signatory"},
                {"organization_id": second["id"], "role": "observer"},
            ],
        },
    )
    agreement = response.json()
    assert (await transition(client, agreement["id"], "negotiation")).status_code == 200
    page = f"/app/agreements/{agreement['id']}"
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        refused = await post_form(
            browsing,
            page,
            f"{page}/transition",
            {"to": "signed", "on": "2023-09-04", "reason": "Signed at CIFTIS"},
        )
    assert refused.status_code == 409
    assert "Moving to signed needs" in refused.text
    assert "signatory" in refused.text
    assert "Signed at CIFTIS</textarea>" in refused.text  # what was typed stays
    assert 'value="2023-09-04"' in refused.text
    after = (await client.get(f"/v1/agreements/{agreement['id']}")).json()
    assert after["status"] == "negotiation"
    assert after["version"] == agreement["version"] + 1  # only the API's own move
    history = (await client.get(f"/v1/agreements/{agreement['id']}/history")).json()["items"]
    assert [entry["to"] for entry in history] == ["negotiation"]


async def test_an_allowed_transition_moves_the_agreement(app, client) -> None:
    agreement = await create_agreement(client, signed_on="2023-09-04")
    page = f"/app/agreements/{agreement['id']}"
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        moved = await post_form(browsing, page, f"{page}/transition", {"to": "negotiation"})
    assert moved.status_code == 303
    assert (await client.get(f"/v1/agreements/{agreement['id']}")).json()["status"] == "negotiation"


async def test_a_read_key_cannot_act(app, client) -> None:
    agreement = await create_agreement(client)
    page = f"/app/agreements/{agreement['id']}"
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        shown = (await browsing.get(page)).text
        refused = await post_form(browsing, page, f"{page}/transition", {"to": "negotiation"})
    assert "Move this agreement" not in shown
    assert refused.status_code == 403
    assert (await client.get(f"/v1/agreements/{agreement['id']}")).json()["status"] == "draft"


async def test_a_bound_key_cannot_act_on_another_organizations_agreement(app, client) -> None:
    agreement = await active_agreement(client)
    initiative = await create_initiative(client, agreement)
    milestone = await create_milestone(client, initiative["id"])
    outsider = await create_organization(client, country="FR")
    key = await make_key(app, ["write"], organization_id=uuid.UUID(outsider["id"]))
    page = f"/app/agreements/{agreement['id']}"
    async with signed_in(app, key) as browsing:
        moved = await post_form(browsing, "/app/", f"{page}/transition", {"to": "suspended"})
        done = await post_form(
            browsing, "/app/", f"/app/milestones/{milestone['id']}/done", {"version": "1"}
        )
        recorded = await post_form(
            browsing,
            "/app/",
            f"{page}/engagements",
            {"kind": "meeting", "title": "Sneaky", "starts_on": "2024-01-01"},
        )
    assert [moved.status_code, done.status_code, recorded.status_code] == [404, 404, 404]
    assert (await client.get(f"/v1/agreements/{agreement['id']}")).json()["status"] == "active"
    assert (await client.get(f"/v1/milestones/{milestone['id']}")).json()["status"] == "pending"
    listed = await client.get(f"/v1/engagements?agreement_id={agreement['id']}")
    assert listed.json()["items"] == []


async def test_a_stale_milestone_form_is_refused(app, client) -> None:
    agreement = await active_agreement(client)
    initiative = await create_initiative(client, agreement)
    milestone = await create_milestone(client, initiative["id"])
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        refused = await post_form(
            browsing,
            f"/app/agreements/{agreement['id']}",
            f"/app/milestones/{milestone['id']}/done",
            {"version": "7"},
        )
    assert refused.status_code == 412
    assert "changed since this page was loaded" in refused.text
    assert (await client.get(f"/v1/milestones/{milestone['id']}")).json()["status"] == "pending"


async def test_recording_an_engagement(app, client) -> None:
    agreement = await active_agreement(client)
    page = f"/app/agreements/{agreement['id']}"
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        recorded = await post_form(
            browsing,
            page,
            f"{page}/engagements",
            {
                "kind": "workshop",
                "title": "Zone planning workshop",
                "starts_on": "2024-03-12",
                "location": "Islamabad",
            },
        )
        shown = (await browsing.get(recorded.headers["location"])).text
    assert recorded.status_code == 303
    assert "Zone planning workshop" in shown
    listed = (await client.get(f"/v1/engagements?agreement_id={agreement['id']}")).json()
    assert [item["title"] for item in listed["items"]] == ["Zone planning workshop"]


async def test_an_invalid_engagement_keeps_what_was_typed_and_links_to_the_field(
    app, client
) -> None:
    agreement = await active_agreement(client)
    page = f"/app/agreements/{agreement['id']}"
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        refused = await post_form(
            browsing,
            page,
            f"{page}/engagements",
            {
                "kind": "workshop",
                "title": "Zone planning",
                "starts_on": "2024-03-12",
                "ends_on": "2024-03-01",
            },
        )
    assert refused.status_code == 422
    assert "ends_on must not be before starts_on" in refused.text
    assert 'value="Zone planning"' in refused.text
    assert 'class="error-summary"' in refused.text
    listed = (await client.get(f"/v1/engagements?agreement_id={agreement['id']}")).json()
    assert listed["items"] == []


async def test_an_action_without_the_csrf_token_is_refused_and_changes_nothing(app, client) -> None:
    agreement = await create_agreement(client)
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        refused = await browsing.post(
            f"/app/agreements/{agreement['id']}/transition", data={"to": "negotiation"}
        )
    assert refused.status_code == 403
    assert "text/html" in refused.headers["content-type"]
    assert (await client.get(f"/v1/agreements/{agreement['id']}")).json()["status"] == "draft"
