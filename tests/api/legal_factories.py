"""Small plain functions building contacts, focal points and documents for tests."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

_counter = itertools.count(1)


def contact_body(**overrides: Any) -> dict[str, Any]:
    number = next(_counter)
    body: dict[str, Any] = {
        "name": f"Person {number}",
        "email": f"person{number}@example.org",
        "title": "Director, International Cooperation",
        "phone": "+92 51 9201234",
        "languages": ["en", "ur"],
    }
    body.update(overrides)
    return body


async def create_contact(
    client: httpx.AsyncClient, organization_id: str, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/organizations/{organization_id}/contacts", json=contact_body(**overrides)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def put_focal_points(
    client: httpx.AsyncClient, agreement_id: str, points: list[tuple[str, str]]
) -> httpx.Response:
    return await client.put(
        f"/v1/agreements/{agreement_id}/focal-points",
        json={"focal_points": [{"contact_id": cid, "role": role} for cid, role in points]},
    )
