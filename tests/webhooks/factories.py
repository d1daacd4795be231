"""Small helpers for webhook tests."""

from __future__ import annotations

from typing import Any

import httpx


async def create_endpoint(
    client: httpx.AsyncClient, url: str = "http://127.0.0.1:9/hooks", **fields: Any
) -> dict[str, Any]:
    response = await client.post("/v1/webhook-endpoints", json={"url": url, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def patch_endpoint(
    client: httpx.AsyncClient, endpoint_id: str, **fields: Any
) -> httpx.Response:
    current = await client.get(f"/v1/webhook-endpoints/{endpoint_id}")
    return await client.patch(
        f"/v1/webhook-endpoints/{endpoint_id}",
        json=fields,
        headers={"If-Match": current.headers["ETag"]},
    )
