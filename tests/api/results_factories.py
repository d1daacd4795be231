"""Small plain functions building indicators, measurements and reporting schedules."""

from __future__ import annotations

from typing import Any

import httpx


def indicator_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Policymakers trained",
        "measure": "unit",
        "unit": "policymakers trained",
        "baseline": {"value": 0, "on": "2023-09-04"},
        "target": {"value": 120, "on": "2025-12-31"},
        "objective_ref": "O1",
    }
    body.update(overrides)
    return body


async def create_indicator(
    client: httpx.AsyncClient, initiative_id: str, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/initiatives/{initiative_id}/indicators", json=indicator_body(**overrides)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def measure(
    client: httpx.AsyncClient, indicator_id: str, value: Any, on: str = "2024-03-31", **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/indicators/{indicator_id}/measurements", json={"value": value, "on": on, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()
