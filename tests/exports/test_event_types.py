"""GET /v1/event-types and the OpenAPI webhooks: every type, with a schema real events meet."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import httpx
import jsonschema
from sqlalchemy import select

from services.demo import MOU_REFERENCE, load_demo
from services.demo_records import minimal_pdf
from services.worker.sweep import emit_dormant, emit_expiring, emit_overdue
from shared.events import EVENT_TYPES
from shared.models import OutboxEvent, WebhookDelivery
from shared.reports.opening import notify_due_reports
from shared.rollups.store import recompute_agreement
from shared.settings import Settings
from tests.api.tracking_factories import active_agreement, create_initiative, create_milestone
from tests.factories import create_organization

# SPEC section 5, word for word.
SPEC_TYPES = {
    "organization.created",
    "organization.updated",
    "organization.deleted",
    "agreement.created",
    "agreement.updated",
    "agreement.deleted",
    "agreement.status_changed",
    "agreement.health_changed",
    "agreement.expiring",
    "agreement.dormant",
    "initiative.created",
    "initiative.updated",
    "initiative.deleted",
    "initiative.status_changed",
    "milestone.created",
    "milestone.updated",
    "milestone.deleted",
    "milestone.completed",
    "milestone.overdue",
    "engagement.recorded",
    "engagement.updated",
    "engagement.deleted",
    "research_collaboration.created",
    "research_collaboration.updated",
    "research_collaboration.deleted",
    "research_collaboration.status_changed",
    "research_collaboration.output_added",
    "webhook_endpoint.disabled",
}
WEBHOOK_HEADERS = {"webhook-id", "webhook-timestamp", "webhook-signature"}


async def catalogue(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await client.get("/v1/event-types")
    assert response.status_code == 200, response.text
    return {entry["type"]: entry for entry in response.json()["items"]}


async def test_every_spec_event_type_is_listed_with_a_description_and_schema(
    client: httpx.AsyncClient,
) -> None:
    listed = await catalogue(client)
    assert SPEC_TYPES | set(EVENT_TYPES) <= set(listed)
    for entry in listed.values():
        assert entry["description"]
        jsonschema.Draft202012Validator.check_schema(entry["data_schema"])


async def test_every_event_type_is_an_openapi_webhook_with_the_signature_headers(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert set(EVENT_TYPES) <= set(document["webhooks"])
    for event_type, path_item in document["webhooks"].items():
        operation = path_item["post"]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers == WEBHOOK_HEADERS, event_type
        body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert body.split("/")[-1] in document["components"]["schemas"]


async def produce_every_event(client: httpx.AsyncClient, app: Any) -> None:
    """One real event of each type, through the API, the worker's rollups and the sweep."""
    organization = await create_organization(client)
    await client.patch(
        f"/v1/organizations/{organization['id']}",
        json={"website": "https://stza.gov.pk"},
        headers={"If-Match": f'"{organization["version"]}"'},
    )
    assert (
        await client.delete(f"/v1/organizations/{organization['id']}", headers={"If-Match": '"2"'})
    ).status_code == 204
    today = dt.date.today()
    agreement = await active_agreement(
        client, expires_on=(today + dt.timedelta(days=7)).isoformat()
    )
    agreement_id = uuid.UUID(agreement["id"])
    async with app.state.sessionmaker() as session:
        await recompute_agreement(session, agreement_id)
        await session.commit()
    initiative = await create_initiative(client, agreement)
    await client.patch(
        f"/v1/initiatives/{initiative['id']}",
        json={"description": "Two cohorts a year."},
        headers={"If-Match": f'"{initiative["version"]}"'},
    )
    await client.post(f"/v1/initiatives/{initiative['id']}/transitions", json={"to": "in_progress"})
    overdue = await create_milestone(client, initiative["id"], due_on="2020-01-31")
    done = await create_milestone(client, initiative["id"])
    await client.patch(
        f"/v1/milestones/{done['id']}", json={"status": "done"}, headers={"If-Match": '"1"'}
    )
    spare = await create_milestone(client, initiative["id"])
    await client.patch(
        f"/v1/milestones/{spare['id']}",
        json={"title": "Curriculum signed off"},
        headers={"If-Match": '"1"'},
    )
    await client.delete(f"/v1/milestones/{spare['id']}", headers={"If-Match": '"2"'})
    async with app.state.sessionmaker() as session:
        await recompute_agreement(session, agreement_id)
        await emit_overdue(session, today)
        await emit_expiring(session, today)
        await emit_dormant(session, today + dt.timedelta(days=400), dormancy_days=90)
        await session.commit()
    assert overdue["id"]
    spare_initiative = await create_initiative(client, agreement, title="Spare")
    await client.delete(f"/v1/initiatives/{spare_initiative['id']}", headers={"If-Match": '"1"'})
    parties = [party["organization_id"] for party in agreement["parties"]]
    engagement = (
        await client.post(
            "/v1/engagements",
            json={
                "agreement_id": agreement["id"],
                "kind": "delegation_visit",
                "title": "Delegation visit",
                "starts_on": "2023-11-06",
                "participant_organization_ids": parties,
            },
        )
    ).json()
    await client.patch(
        f"/v1/engagements/{engagement['id']}",
        json={"summary": "Planned the work."},
        headers={"If-Match": '"1"'},
    )
    await client.delete(f"/v1/engagements/{engagement['id']}", headers={"If-Match": '"2"'})
    research = (
        await client.post(
            "/v1/research-collaborations",
            json={
                "agreement_id": agreement["id"],
                "title": "Joint research on technology zones",
                "research_area": "innovation policy",
                "participants": [
                    {"organization_id": parties[0], "role": "lead"},
                    {"organization_id": parties[1], "role": "partner"},
                ],
            },
        )
    ).json()
    rid = research["id"]
    await client.patch(
        f"/v1/research-collaborations/{rid}",
        json={"title": "Joint research"},
        headers={"If-Match": '"1"'},
    )
    await client.patch(
        f"/v1/research-collaborations/{rid}",
        json={"status": "active"},
        headers={"If-Match": '"2"'},
    )
    await client.post(
        f"/v1/research-collaborations/{rid}/outputs",
        json={"kind": "policy_brief", "title": "Technology zones brief"},
    )
    current = (await client.get(f"/v1/research-collaborations/{rid}")).headers["ETag"]
    await client.delete(f"/v1/research-collaborations/{rid}", headers={"If-Match": current})
    endpoint = (
        await client.post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/hook"})
    ).json()
    await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")
    await client.patch(
        f"/v1/webhook-endpoints/{endpoint['id']}",
        json={"enabled": False},
        headers={"If-Match": f'"{endpoint["version"]}"'},
    )
    draft = (
        await client.post(
            "/v1/agreements",
            json={
                "reference": "DRAFT-1",
                "title": "A draft",
                "instrument_type": "mou",
                "legal_character": "non_binding",
                "parties": [{"organization_id": parties[0], "role": "signatory"}],
            },
        )
    ).json()
    await client.patch(
        f"/v1/agreements/{draft['id']}",
        json={"summary": "Draft terms."},
        headers={"If-Match": '"1"'},
    )
    await client.delete(f"/v1/agreements/{draft['id']}", headers={"If-Match": '"2"'})


async def etag(client: httpx.AsyncClient, path: str) -> dict[str, str]:
    return {"If-Match": (await client.get(path)).headers["ETag"]}


async def produce_records_and_results_events(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """Contacts, focal points, documents, indicators and reports: the demo story
    (SPEC section 16) and the changes it does not make."""
    await load_demo(settings)
    mou = (await client.get("/v1/agreements", params={"q": MOU_REFERENCE})).json()["items"][0]
    stza = mou["parties"][0]["organization_id"]
    contact = (
        await client.post(
            f"/v1/organizations/{stza}/contacts",
            json={"name": "Liaison Officer", "email": "liaison@stza.gov.pk"},
        )
    ).json()
    path = f"/v1/contacts/{contact['id']}"
    await client.patch(path, json={"title": "Deputy Director"}, headers=await etag(client, path))
    await client.delete(path, headers=await etag(client, path))
    uploaded = await client.post(
        "/v1/documents",
        data={"owner_type": "agreement", "owner_id": mou["id"], "kind": "annex"},
        files={"file": ("annex.pdf", minimal_pdf(["Annex"]), "application/pdf")},
    )
    path = f"/v1/documents/{uploaded.json()['id']}"
    await client.patch(path, json={"title": "Annex I"}, headers=await etag(client, path))
    await client.delete(path, headers=await etag(client, path))
    indicator = (await client.get("/v1/indicators", params={"agreement_id": mou["id"]})).json()
    path = f"/v1/indicators/{indicator['items'][0]['id']}"
    await client.patch(path, json={"unit": "officials trained"}, headers=await etag(client, path))
    spare = (
        await client.post(
            f"/v1/initiatives/{indicator['items'][0]['initiative_id']}/indicators",
            json={
                "title": "Spare",
                "measure": "qualitative",
                "baseline": {"value": "none"},
                "target": {"value": "some"},
            },
        )
    ).json()
    path = f"/v1/indicators/{spare['id']}"
    await client.delete(path, headers=await etag(client, path))
    reports = (await client.get("/v1/reports", params={"agreement_id": mou["id"]})).json()
    report = next(item for item in reports["items"] if item["status"] == "open")
    path = f"/v1/reports/{report['id']}"
    await client.patch(
        path, json={"narrative": "Training cohort one done."}, headers=await etag(client, path)
    )
    due_on = dt.date.fromisoformat(report["due_on"])
    async with app.state.sessionmaker() as session:
        await notify_due_reports(session, due_on - dt.timedelta(days=3))
        await notify_due_reports(session, due_on + dt.timedelta(days=1))
        await session.commit()
    await client.post(f"{path}/transitions", json={"to": "submitted"})
    await client.post(f"{path}/transitions", json={"to": "returned", "comment": "Add figures."})


async def test_real_events_of_every_type_validate_against_their_listed_schema(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    await produce_every_event(client, app)
    await produce_records_and_results_events(client, app, settings)
    schemas = {kind: entry["data_schema"] for kind, entry in (await catalogue(client)).items()}
    async with app.state.sessionmaker() as session:
        events = [(event.type, event.data) for event in await session.scalars(select(OutboxEvent))]
        bodies = [json.loads(row) for row in await session.scalars(select(WebhookDelivery.body))]
    events += [(body["type"], body["data"]) for body in bodies]
    seen: set[str] = set()
    for event_type, data in events:
        jsonschema.validate(data, schemas[event_type], cls=jsonschema.Draft202012Validator)
        seen.add(event_type)
    assert seen == set(schemas)
