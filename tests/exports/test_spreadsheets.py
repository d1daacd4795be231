"""GET /v1/exports/{resource}.csv and .xlsx (SPEC section 14), read back."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import openpyxl
import pytest

from services.demo import load_demo
from shared.exports import sheets
from shared.settings import Settings
from tests.api.tracking_factories import create_initiative, create_milestone
from tests.conftest import client_for, make_key
from tests.factories import create_agreement, create_organization, transition


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 7 rows, so a few dozen rows cross several of them."""
    monkeypatch.setattr(sheets, "PAGE_SIZE", 7)


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


def read_xlsx(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    workbook = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    header, *rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    return [dict(zip(header, row, strict=True)) for row in rows]


async def parties(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    return [
        await create_organization(client, country="PK"),
        await create_organization(client, country="CN"),
    ]


async def test_the_agreements_csv_holds_every_row_across_pages(client: httpx.AsyncClient) -> None:
    both = await parties(client)
    created = [await create_agreement(client, parties=both) for _ in range(55)]
    rows = read_csv(await client.get("/v1/exports/agreements.csv"))
    assert [row["id"] for row in rows] == [agreement["id"] for agreement in created]


async def test_the_agreements_xlsx_holds_every_row_across_pages(client: httpx.AsyncClient) -> None:
    both = await parties(client)
    created = [await create_agreement(client, parties=both) for _ in range(55)]
    rows = read_xlsx(await client.get("/v1/exports/agreements.xlsx"))
    assert [row["reference"] for row in rows] == [agreement["reference"] for agreement in created]


@pytest.mark.parametrize("format", ["csv", "xlsx"])
async def test_a_title_starting_with_a_formula_comes_back_escaped(
    client: httpx.AsyncClient, format: str
) -> None:
    await create_agreement(client, title='=HYPERLINK("http://evil","click")')
    response = await client.get(f"/v1/exports/agreements.{format}")
    rows = read_csv(response) if format == "csv" else read_xlsx(response)
    assert rows[0]["title"] == '\'=HYPERLINK("http://evil","click")'


async def test_dates_are_iso_and_lists_are_joined(client: httpx.AsyncClient) -> None:
    await create_agreement(
        client,
        effective_from="2024-02-01",
        expires_on="2029-02-01",
        focus_areas=["innovation ecosystems", "collaborative research"],
    )
    row = read_csv(await client.get("/v1/exports/agreements.csv"))[0]
    assert (row["effective_from"], row["expires_on"]) == ("2024-02-01", "2029-02-01")
    assert row["focus_areas"] == "innovation ecosystems; collaborative research"
    assert row["objectives"].startswith("O1: Capacity building of policymakers.; O2: ")
    assert row["created_at"].endswith("Z")


async def test_an_org_bound_key_exports_only_its_agreements(
    app: Any, client: httpx.AsyncClient
) -> None:
    stza = await create_organization(client)
    mine = [await create_agreement(client, parties=[stza]) for _ in range(3)]
    for _ in range(3):
        await create_agreement(client)
    key = await make_key(app, ["read"], organization_id=uuid.UUID(stza["id"]))
    async with client_for(app, key) as bound:
        csv_rows = read_csv(await bound.get("/v1/exports/agreements.csv"))
        xlsx_rows = read_xlsx(await bound.get("/v1/exports/agreements.xlsx"))
    expected = [agreement["id"] for agreement in mine]
    assert [row["id"] for row in csv_rows] == expected
    assert [row["id"] for row in xlsx_rows] == expected


async def test_the_list_filters_apply(client: httpx.AsyncClient) -> None:
    both = await parties(client)
    kept = await create_agreement(client, parties=both)
    dropped = await create_agreement(client, parties=both)
    await transition(client, dropped["id"], "cancelled")
    rows = read_csv(await client.get("/v1/exports/agreements.csv", params={"status": "draft"}))
    assert [row["id"] for row in rows] == [kept["id"]]


async def test_milestones_and_initiatives_export_every_row(client: httpx.AsyncClient) -> None:
    agreement = await create_agreement(client)
    initiative = await create_initiative(client, agreement)
    milestones = [
        await create_milestone(client, initiative["id"], due_on=f"2030-01-{day:02d}")
        for day in range(1, 21)
    ]
    rows = read_csv(await client.get("/v1/exports/milestones.csv"))
    assert [row["due_on"] for row in rows] == [milestone["due_on"] for milestone in milestones]
    initiatives = read_xlsx(await client.get("/v1/exports/initiatives.xlsx"))
    assert [row["id"] for row in initiatives] == [initiative["id"]]


async def test_engagements_export_their_participants(client: httpx.AsyncClient) -> None:
    agreement = await create_agreement(client)
    ids = [party["organization_id"] for party in agreement["parties"]]
    response = await client.post(
        "/v1/engagements",
        json={
            "agreement_id": agreement["id"],
            "kind": "delegation_visit",
            "title": "Delegation visit to plan implementation",
            "starts_on": "2023-11-06",
            "participant_organization_ids": ids,
            "outcomes": ["-1 budget line", "joint work plan"],
        },
    )
    assert response.status_code == 201, response.text
    row = read_csv(await client.get("/v1/exports/engagements.csv"))[0]
    assert row["participant_organization_ids"] == "; ".join(ids)
    assert row["outcomes"] == "'-1 budget line; joint work plan"


async def test_an_unknown_format_answers_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/exports/agreements.pdf")
    assert response.status_code == 422


async def test_indicators_and_reports_of_the_demo_export(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await load_demo(settings)
    indicators = read_csv(await client.get("/v1/exports/indicators.csv"))
    reports = read_xlsx(await client.get("/v1/exports/reports.xlsx", params={"status": "accepted"}))
    listed = (await client.get("/v1/indicators", params={"limit": 200})).json()["items"]
    assert [row["id"] for row in indicators] == [indicator["id"] for indicator in listed]
    assert indicators[0]["baseline"].startswith("0")
    assert reports and {row["status"] for row in reports} == {"accepted"}
