"""Small plain functions building initiatives, milestones, engagements and research."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import create_agreement, transition


async def active_agreement(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    """An agreement between two signatories, signed and active."""
    agreement = await create_agreement(client, signed_on="2023-09-04", **overrides)
    for target in ("negotiation", "signed", "active"):
        response = await transition(client, agreement["id"], target)
        assert response.status_code == 200, response.text
    return (await client.get(f"/v1/agreements/{agreement['id']}")).json()


def initiative_body(agreement: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Policymaker training programme",
        "objective_ref": agreement["objectives"][0]["ref"] if agreement["objectives"] else None,
        "lead_organization_id": agreement["parties"][0]["organization_id"],
    }
    body.update(overrides)
    return body


async def create_initiative(
    client: httpx.AsyncClient, agreement: dict[str, Any], **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/agreements/{agreement['id']}/initiatives",
        json=initiative_body(agreement, **overrides),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def move_initiative(
    client: httpx.AsyncClient, initiative_id: str, to: str, **fields: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/initiatives/{initiative_id}/transitions", json={"to": to, **fields}
    )


async def create_milestone(
    client: httpx.AsyncClient, initiative_id: str, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Curriculum agreed", "due_on": "2030-01-31"}
    body.update(overrides)
    response = await client.post(f"/v1/initiatives/{initiative_id}/milestones", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def engagement_body(agreement: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    parties = [party["organization_id"] for party in agreement["parties"]]
    body: dict[str, Any] = {
        "agreement_id": agreement["id"],
        "kind": "delegation_visit",
        "title": "Delegation visit to the partner's office",
        "starts_on": "2023-10-10",
        "host_organization_id": parties[-1],
        "participant_organization_ids": parties,
        "outcomes": ["Agree a training curriculum"],
    }
    body.update(overrides)
    return body


async def create_engagement(
    client: httpx.AsyncClient, agreement: dict[str, Any], **overrides: Any
) -> dict[str, Any]:
    response = await client.post("/v1/engagements", json=engagement_body(agreement, **overrides))
    assert response.status_code == 201, response.text
    return response.json()


def research_body(organization_ids: list[str], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Strategic planning for Special Technology Zones",
        "research_area": "innovation policy",
        "participants": [
            {"organization_id": organization_id, "role": "lead" if index == 0 else "partner"}
            for index, organization_id in enumerate(organization_ids)
        ],
    }
    body.update(overrides)
    return body


async def create_research(
    client: httpx.AsyncClient, organization_ids: list[str], **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/research-collaborations", json=research_body(organization_ids, **overrides)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def events_of(app: Any, *, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """The outbox events, in the order they were written: ``(type, data)``."""
    from sqlalchemy import select

    from shared.models import OutboxEvent

    async with app.state.sessionmaker() as session:
        rows = (await session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))).all()
    return [(row.type, row.data) for row in rows if row.type.startswith(prefix)]
