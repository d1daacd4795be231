"""Small plain functions for the party-act and amendment tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from shared.models import OutboxEvent
from tests.factories import create_agreement, create_organization, transition


async def record_act(
    client: httpx.AsyncClient,
    agreement_id: str,
    organization_id: str,
    act: str,
    on: str,
    **fields: Any,
) -> httpx.Response:
    return await client.post(
        f"/v1/agreements/{agreement_id}/party-acts",
        json={"organization_id": organization_id, "act": act, "on": on, **fields},
    )


async def negotiating_agreement(
    client: httpx.AsyncClient, **overrides: Any
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An agreement in negotiation between two signatories: (agreement, stza, gei)."""
    stza = await create_organization(
        client, name="Special Technology Zones Authority", acronym="STZA", country="PK"
    )
    gei = await create_organization(
        client,
        name="Great Wall Enterprise Institute",
        acronym="GEI",
        country="CN",
        kind="research_institute",
    )
    agreement = await create_agreement(client, [stza, gei], **overrides)
    moved = await transition(client, agreement["id"], "negotiation")
    assert moved.status_code == 200, moved.text
    return moved.json(), stza, gei


def party(agreement: dict[str, Any], organization: dict[str, Any]) -> dict[str, Any]:
    return next(
        entry for entry in agreement["parties"] if entry["organization_id"] == organization["id"]
    )


async def events_of(app, agreement_id: str) -> list[OutboxEvent]:  # type: ignore[no-untyped-def]
    """The agreement's events, in sequence order."""
    async with app.state.sessionmaker() as session:
        return list(
            (
                await session.scalars(
                    select(OutboxEvent)
                    .where(OutboxEvent.aggregate_id == uuid.UUID(agreement_id))
                    .order_by(OutboxEvent.sequence)
                )
            ).all()
        )
