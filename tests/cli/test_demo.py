"""`accords demo` loads the whole reference story, as the API then shows it."""

from __future__ import annotations

import pytest

from services.demo import MOU_REFERENCE, load_demo


@pytest.fixture
async def mou(app, client) -> dict:
    await load_demo(app.state.settings)
    page = (await client.get("/v1/agreements", params={"q": MOU_REFERENCE})).json()
    [agreement] = page["items"]
    return agreement


async def _all(client, path: str, **params) -> list[dict]:
    response = await client.get(path, params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_the_mou_is_active_with_four_objectives(mou) -> None:
    assert mou["status"] == "active"
    assert [objective["ref"] for objective in mou["objectives"]] == ["O1", "O2", "O3", "O4"]


async def test_every_objective_has_an_initiative_in_progress(client, mou) -> None:
    initiatives = await _all(client, "/v1/initiatives", agreement_id=mou["id"])

    assert sorted(initiative["objective_ref"] for initiative in initiatives) == [
        "O1",
        "O2",
        "O3",
        "O4",
    ]
    assert {initiative["status"] for initiative in initiatives} == {"in_progress"}


async def test_milestones_are_dated_some_done_and_exactly_one_overdue(client, mou) -> None:
    milestones = await _all(client, "/v1/milestones", agreement_id=mou["id"])
    overdue = await _all(client, "/v1/milestones", agreement_id=mou["id"], overdue="true")

    done = [milestone for milestone in milestones if milestone["status"] == "done"]
    assert len(done) >= 2
    assert all(milestone["completed_on"] for milestone in done)
    assert len(overdue) == 1
    assert overdue[0]["title"] == "Joint innovation ecosystem workshop held"


async def test_the_delegation_visit_outcomes_became_milestones(client, mou) -> None:
    [visit] = await _all(client, "/v1/engagements", agreement_id=mou["id"], kind="delegation_visit")
    decided = await _all(client, "/v1/milestones", engagement_id=visit["id"])

    assert visit["location"] == "GEI office, Beijing"
    assert sorted(milestone["title"] for milestone in decided) == sorted(visit["outcomes"])


async def test_the_visit_was_hosted_by_gei(client, mou) -> None:
    [visit] = await _all(client, "/v1/engagements", agreement_id=mou["id"], kind="delegation_visit")
    host = (await client.get(f"/v1/organizations/{visit['host_organization_id']}")).json()

    assert host["acronym"] == "GEI"


async def test_a_research_collaboration_on_zone_planning_has_an_output(client, mou) -> None:
    [collaboration] = await _all(client, "/v1/research-collaborations", agreement_id=mou["id"])

    assert "Special Technology Zones" in collaboration["title"]
    assert [participant["role"] for participant in collaboration["participants"]] == [
        "lead",
        "partner",
    ]
    assert len(collaboration["outputs"]) == 1
    assert collaboration["outputs"][0]["doi"].startswith("10.")


async def test_loading_twice_changes_nothing(app, client, mou) -> None:
    before = await _all(client, "/v1/milestones")

    message = await load_demo(app.state.settings)

    assert "already loaded" in message
    assert await _all(client, "/v1/milestones") == before


async def test_both_signatories_signed_on_the_signing_date(client, mou) -> None:
    acts = await _all(client, f"/v1/agreements/{mou['id']}/party-acts", act="signature")

    assert len(acts) == 2
    assert {act["on"] for act in acts} == {"2023-09-04"}
    assert {party["signed_on"] for party in mou["parties"]} == {"2023-09-04"}


async def test_the_two_year_extension_is_applied_as_an_amendment(client, mou) -> None:
    [extension] = await _all(client, f"/v1/agreements/{mou['id']}/amendments")
    versions = await _all(client, f"/v1/agreements/{mou['id']}/versions")

    assert (extension["kind"], extension["status"]) == ("extension", "applied")
    assert mou["expires_on"] == "2030-09-04"
    assert [version["terms"]["expires_on"] for version in versions] == ["2028-09-04", "2030-09-04"]
    assert mou["terms_version"] == 2


async def test_each_party_has_a_focal_point(client, mou) -> None:
    focal_points = (await client.get(f"/v1/agreements/{mou['id']}/focal-points")).json()

    assert sorted(point["organization_id"] for point in focal_points["focal_points"]) == sorted(
        party["organization_id"] for party in mou["parties"]
    )
    assert {point["role"] for point in focal_points["focal_points"]} == {"focal_point"}


async def test_the_signed_copy_is_a_pdf_document(client, mou) -> None:
    import hashlib

    [signed] = await _all(client, "/v1/documents", owner_id=mou["id"], kind="signed_copy")
    content = await client.get(signed["content_url"])

    assert signed["media_type"] == "application/pdf"
    assert signed["authentic"] is True
    assert content.content.startswith(b"%PDF-1.4") and content.content.rstrip().endswith(b"%%EOF")
    assert hashlib.sha256(content.content).hexdigest() == signed["sha256"]


async def test_every_objective_has_a_measured_indicator(client, mou) -> None:
    indicators = await _all(client, "/v1/indicators", agreement_id=mou["id"])

    assert sorted(indicator["objective_ref"] for indicator in indicators) == [
        "O1",
        "O2",
        "O3",
        "O4",
    ]
    assert all(indicator["latest"] is not None for indicator in indicators)


async def test_policymakers_trained_goes_from_0_to_120_and_35_are_measured(client, mou) -> None:
    indicators = await _all(client, "/v1/indicators", agreement_id=mou["id"], objective_ref="O1")
    [trained] = indicators

    assert (trained["baseline"]["value"], trained["target"]["value"]) == (0, 120)
    assert trained["latest"]["value"] == 35
    assert trained["achievement"] == pytest.approx(35 / 120)


async def test_quarterly_reporting_has_one_report_accepted_and_one_open(client, mou) -> None:
    reports = await _all(client, "/v1/reports", agreement_id=mou["id"])
    agreement = (await client.get(f"/v1/agreements/{mou['id']}")).json()

    assert agreement["reporting"]["frequency"] == "quarterly"
    assert [report["status"] for report in reports] == ["accepted", "open"]
    assert reports[0]["narrative"]
