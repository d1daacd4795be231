"""Small plain functions that build request bodies and resources for tests."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

_counter = itertools.count(1)


def organization_body(**overrides: Any) -> dict[str, Any]:
    number = next(_counter)
    body: dict[str, Any] = {
        "name": f"Organization {number}",
        "acronym": f"ORG{number}",
        "kind": "government_agency",
        "country": "PK",
    }
    body.update(overrides)
    return body


def agreement_body(party_ids: list[str], **overrides: Any) -> dict[str, Any]:
    number = next(_counter)
    body: dict[str, Any] = {
        "reference": f"AGR-{number:05d}",
        "title": f"Memorandum of Understanding {number}",
        "instrument_type": "mou",
        "legal_character": "non_binding",
        "focus_areas": ["innovation ecosystems"],
        "objectives": [
            {"ref": "O1", "text": "Capacity building of policymakers."},
            {"ref": "O2", "text": "Collaborative research."},
        ],
        "parties": [{"organization_id": party, "role": "signatory"} for party in party_ids],
    }
    body.update(overrides)
    return body


async def create_organization(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/v1/organizations", json=organization_body(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


async def create_agreement(
    client: httpx.AsyncClient, parties: list[dict[str, Any]] | None = None, **overrides: Any
) -> dict[str, Any]:
    if parties is None:
        parties = [
            await create_organization(client, country="PK"),
            await create_organization(client, country="CN", kind="research_institute"),
        ]
    response = await client.post(
        "/v1/agreements", json=agreement_body([party["id"] for party in parties], **overrides)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def transition(
    client: httpx.AsyncClient, agreement_id: str, to: str, **fields: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/agreements/{agreement_id}/transitions", json={"to": to, **fields}
    )
