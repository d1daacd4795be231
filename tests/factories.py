"""Small plain functions that build request bodies and resources for tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Ref:
    """A parametrized value that names a resource a fixture made (known only at run time)."""

    name: str
    field: str = "id"


def resolved(params: dict[str, Any], made: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``params`` with each :class:`Ref` replaced by the field of the resource it names."""
    return {
        key: made[value.name][value.field] if isinstance(value, Ref) else value
        for key, value in params.items()
    }


async def listed_ids(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> list[str]:
    """The ids a list endpoint answers for ``params``, in order."""
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]
