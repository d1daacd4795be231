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


def schedule(reporter_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "frequency": "quarterly",
        "first_period_start": "2023-10-01",
        "due_days": 30,
        "reporter_organization_id": reporter_id,
    }
    body.update(overrides)
    return body


async def sweep_reports(app: Any, today: Any) -> tuple[int, int, int]:
    """Run the sweep's report steps once, in their own transaction: (opened, due, overdue)."""
    from shared.reports.opening import notify_due_reports, open_due_reports

    async with app.state.sessionmaker() as session:
        opened = await open_due_reports(session, today)
        due, overdue = await notify_due_reports(session, today)
        await session.commit()
    return len(opened), due, overdue


async def reports_of(client: httpx.AsyncClient, agreement_id: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/reports", params={"agreement_id": agreement_id})
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def patch_report(client: httpx.AsyncClient, report: dict[str, Any], **fields: Any) -> Any:
    return await client.patch(
        f"/v1/reports/{report['id']}", json=fields, headers={"If-Match": f'"{report["version"]}"'}
    )


async def move_report(
    client: httpx.AsyncClient, report_id: str, to: str, **fields: Any
) -> httpx.Response:
    return await client.post(f"/v1/reports/{report_id}/transitions", json={"to": to, **fields})
