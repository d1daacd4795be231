"""Reporting schedules and periodic reports over HTTP (SPEC section 11), on both databases."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from shared.reports.periods import add_months, period
from tests.api.results_factories import (
    create_indicator,
    move_report,
    patch_report,
    reports_of,
    schedule,
    sweep_reports,
)
from tests.api.tracking_factories import active_agreement, create_initiative, events_of
from tests.conftest import client_for, make_key
from tests.factories import create_agreement, create_organization

TODAY = dt.datetime.now(dt.UTC).date()
# Three started quarters: the first overdue, the second due within days, the third open.
FIRST_START = add_months(TODAY, -6)


@pytest.fixture
async def parties(client) -> list[dict]:
    return [
        await create_organization(client, name="Special Technology Zones Authority", country="PK"),
        await create_organization(
            client, name="Global Economic Institute", country="CN", kind="research_institute"
        ),
    ]


@pytest.fixture
async def agreement(client, parties) -> dict:
    """Active, with GEI reporting quarterly from six months ago, due 5 days after each quarter."""
    return await active_agreement(
        client,
        parties=parties,
        reporting=schedule(
            parties[1]["id"], first_period_start=FIRST_START.isoformat(), due_days=5
        ),
    )


async def _opened(app, client, agreement) -> list[dict]:
    await sweep_reports(app, TODAY)
    return await reports_of(client, agreement["id"])


async def _drafted(client, report: dict, **fields) -> dict:
    response = await patch_report(
        client, report, **({"narrative": "Two training cohorts held."} | fields)
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_agreement_carries_its_reporting_schedule(client, agreement, parties) -> None:
    read = (await client.get(f"/v1/agreements/{agreement['id']}")).json()
    listed = (await client.get("/v1/agreements")).json()["items"]

    expected = schedule(parties[1]["id"], first_period_start=FIRST_START.isoformat(), due_days=5)
    assert read["reporting"] == expected
    assert [a["reporting"] for a in listed if a["id"] == agreement["id"]] == [expected]


async def test_due_days_default_to_30(client, parties) -> None:
    body = schedule(parties[0]["id"])
    del body["due_days"]
    agreement = await create_agreement(client, parties=parties, reporting=body)

    assert agreement["reporting"]["due_days"] == 30


async def test_the_reporter_must_be_a_party(client, parties) -> None:
    outsider = await create_organization(client)
    response = await client.post(
        "/v1/agreements",
        json={
            "reference": "STZA-GEI-R1",
            "title": "MoU",
            "instrument_type": "mou",
            "legal_character": "non_binding",
            "parties": [{"organization_id": p["id"], "role": "signatory"} for p in parties],
            "reporting": schedule(outsider["id"]),
        },
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "reporting", "reporter_organization_id"]


@pytest.mark.parametrize(
    "overrides",
    [{"due_days": -1}, {"frequency": "monthly"}, {"first_period_start": "2023-02-30"}],
)
async def test_an_invalid_schedule_is_refused(client, parties, overrides) -> None:
    agreement = await create_agreement(client, parties=parties)

    response = await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={"reporting": schedule(parties[0]["id"], **overrides)},
        headers={"If-Match": f'"{agreement["version"]}"'},
    )

    assert response.status_code == 422, response.text


async def test_dropping_the_reporter_from_the_parties_is_refused(client, parties) -> None:
    third = await create_organization(client)
    agreement = await create_agreement(
        client, parties=[*parties, third], reporting=schedule(third["id"])
    )

    response = await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={"parties": [{"organization_id": p["id"], "role": "signatory"} for p in parties]},
        headers={"If-Match": f'"{agreement["version"]}"'},
    )

    assert response.status_code == 422, response.text


async def test_the_sweep_opens_each_started_period_once(app, client, agreement) -> None:
    first = await sweep_reports(app, TODAY)
    second = await sweep_reports(app, TODAY)

    reports = await reports_of(client, agreement["id"])
    expected = [period("quarterly", FIRST_START, n) for n in range(3)]
    assert [(r["period_start"], r["period_end"]) for r in reports] == [
        (p.start.isoformat(), p.end.isoformat()) for p in expected
    ]
    assert reports[0]["due_on"] == expected[0].due_on(5).isoformat()
    assert (first[0], second[0]) == (3, 0)


async def test_no_report_is_opened_for_a_draft_agreement(app, client, parties) -> None:
    agreement = await create_agreement(
        client, parties=parties, reporting=schedule(parties[1]["id"])
    )

    await sweep_reports(app, TODAY)

    assert await reports_of(client, agreement["id"]) == []


async def test_a_changed_schedule_affects_only_periods_not_yet_opened(
    app, client, agreement, parties
) -> None:
    opened = await _opened(app, client, agreement)
    current = (await client.get(f"/v1/agreements/{agreement['id']}")).json()
    changed = schedule(parties[1]["id"], first_period_start=FIRST_START.isoformat(), due_days=60)
    response = await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={"reporting": changed},
        headers={"If-Match": f'"{current["version"]}"'},
    )
    assert response.status_code == 200, response.text

    await sweep_reports(app, add_months(FIRST_START, 9))

    reports = await reports_of(client, agreement["id"])
    assert [r["due_on"] for r in reports[:3]] == [r["due_on"] for r in opened]
    assert reports[3]["due_on"] == period("quarterly", FIRST_START, 3).due_on(60).isoformat()


async def test_overdue_is_true_for_an_open_report_past_its_due_date(app, client, agreement) -> None:
    reports = await _opened(app, client, agreement)

    assert [r["overdue"] for r in reports] == [True, False, False]
    assert all(r["status"] == "open" for r in reports)


async def test_the_list_filters_by_status_and_strictly_by_due_date(app, client, agreement) -> None:
    reports = await _opened(app, client, agreement)
    await _drafted(client, reports[1])
    await move_report(client, reports[1]["id"], "submitted")

    submitted = (await client.get("/v1/reports", params={"status": "submitted"})).json()
    due_before = (
        await client.get("/v1/reports", params={"due_before": reports[1]["due_on"]})
    ).json()

    assert [r["id"] for r in submitted["items"]] == [reports[1]["id"]]
    assert [r["id"] for r in due_before["items"]] == [reports[0]["id"]]


async def test_submitting_needs_a_narrative(app, client, agreement) -> None:
    report = (await _opened(app, client, agreement))[0]

    response = await move_report(client, report["id"], "submitted")

    assert response.status_code == 409, response.text
    assert "narrative" in response.json()["detail"]


async def test_the_draft_cannot_change_once_submitted(app, client, agreement) -> None:
    report = await _drafted(client, (await _opened(app, client, agreement))[0])
    submitted = (await move_report(client, report["id"], "submitted")).json()

    response = await patch_report(client, submitted, narrative="Rewritten")

    assert response.status_code == 409, response.text


async def test_patch_needs_if_match(app, client, agreement) -> None:
    report = (await _opened(app, client, agreement))[0]

    response = await client.patch(f"/v1/reports/{report['id']}", json={"narrative": "x"})

    assert response.status_code == 428


async def test_accepting_records_the_carried_measurements(app, client, agreement) -> None:
    initiative = await create_initiative(client, agreement)
    indicator = await create_indicator(client, initiative["id"])
    report = (await _opened(app, client, agreement))[0]
    on = report["period_end"]
    report = await _drafted(
        client, report, measurements=[{"indicator_id": indicator["id"], "value": 35, "on": on}]
    )
    await move_report(client, report["id"], "submitted")

    response = await move_report(client, report["id"], "accepted", comment="Thank you.")

    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["review_comment"]) == (
        "accepted",
        "Thank you.",
    )
    read = (await client.get(f"/v1/indicators/{indicator['id']}")).json()
    assert (read["latest"]["value"], read["latest"]["report_id"]) == (35, report["id"])
    assert read["achievement"] == pytest.approx(35 / 120)


async def test_measurements_wait_for_the_acceptance(app, client, agreement) -> None:
    initiative = await create_initiative(client, agreement)
    indicator = await create_indicator(client, initiative["id"])
    report = (await _opened(app, client, agreement))[0]
    on = report["period_end"]
    report = await _drafted(
        client, report, measurements=[{"indicator_id": indicator["id"], "value": 35, "on": on}]
    )
    await move_report(client, report["id"], "submitted")

    read = (await client.get(f"/v1/indicators/{indicator['id']}")).json()

    assert read["latest"] is None


async def test_a_carried_measurement_must_name_an_indicator_of_the_agreement(
    app, client, agreement
) -> None:
    other = await create_initiative(client, await create_agreement(client))
    foreign = await create_indicator(client, other["id"])
    report = (await _opened(app, client, agreement))[0]

    response = await patch_report(
        client,
        report,
        measurements=[{"indicator_id": foreign["id"], "value": 3, "on": report["period_end"]}],
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "measurements", 0, "indicator_id"]


async def test_a_carried_measurement_must_fit_the_indicator(app, client, agreement) -> None:
    initiative = await create_initiative(client, agreement)
    indicator = await create_indicator(client, initiative["id"])
    report = (await _opened(app, client, agreement))[0]

    response = await patch_report(
        client,
        report,
        measurements=[{"indicator_id": indicator["id"], "value": "many", "on": "2024-01-01"}],
    )

    assert response.status_code == 422, response.text


async def test_a_returned_report_can_be_resubmitted(app, client, agreement) -> None:
    report = await _drafted(client, (await _opened(app, client, agreement))[0])
    await move_report(client, report["id"], "submitted")
    returned = (await move_report(client, report["id"], "returned", comment="Add figures.")).json()
    redrafted = await _drafted(client, returned, narrative="Two cohorts; 35 trained.")

    response = await move_report(client, redrafted["id"], "submitted")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "submitted"
    assert response.json()["review_comment"] == "Add figures."


async def test_an_accepted_report_moves_no_further(app, client, agreement) -> None:
    report = await _drafted(client, (await _opened(app, client, agreement))[0])
    await move_report(client, report["id"], "submitted")
    await move_report(client, report["id"], "accepted")

    response = await move_report(client, report["id"], "returned")

    assert response.status_code == 409
    assert response.json()["allowed"] == []


async def test_an_open_report_cannot_be_accepted(app, client, agreement) -> None:
    report = (await _opened(app, client, agreement))[0]

    response = await move_report(client, report["id"], "accepted")

    assert response.status_code == 409
    assert response.json()["allowed"] == ["submitted"]


async def test_the_reporters_key_submits_but_cannot_accept(app, client, agreement, parties) -> None:
    report = await _drafted(client, (await _opened(app, client, agreement))[0])
    key = await make_key(app, ["read", "write"], organization_id=uuid.UUID(parties[1]["id"]))

    async with client_for(app, key) as reporter:
        submitted = await move_report(reporter, report["id"], "submitted")
        accepted = await move_report(reporter, report["id"], "accepted")

    assert submitted.status_code == 200, submitted.text
    assert accepted.status_code == 403, accepted.text


async def test_another_partys_key_reviews_but_cannot_submit(
    app, client, agreement, parties
) -> None:
    reports = await _opened(app, client, agreement)
    first, second = await _drafted(client, reports[0]), await _drafted(client, reports[1])
    await move_report(client, first["id"], "submitted")
    key = await make_key(app, ["read", "write"], organization_id=uuid.UUID(parties[0]["id"]))

    async with client_for(app, key) as reviewer:
        accepted = await move_report(reviewer, first["id"], "accepted")
        submitted = await move_report(reviewer, second["id"], "submitted")

    assert accepted.status_code == 200, accepted.text
    assert submitted.status_code == 403, submitted.text


async def test_a_read_only_key_cannot_move_a_report(app, client, agreement) -> None:
    report = await _drafted(client, (await _opened(app, client, agreement))[0])
    key = await make_key(app, ["read"])

    async with client_for(app, key) as reader:
        response = await move_report(reader, report["id"], "submitted")

    assert response.status_code == 403


async def test_an_outsiders_key_sees_no_report(app, client, agreement) -> None:
    report = (await _opened(app, client, agreement))[0]
    outsider = await create_organization(client)
    key = await make_key(app, ["read", "write"], organization_id=uuid.UUID(outsider["id"]))

    async with client_for(app, key) as stranger:
        read = await stranger.get(f"/v1/reports/{report['id']}")
        listed = (await stranger.get("/v1/reports")).json()

    assert read.status_code == 404
    assert listed["items"] == []


async def test_the_sweep_announces_due_and_overdue_once_each(app, client, agreement) -> None:
    first = await sweep_reports(app, TODAY)
    again = await sweep_reports(app, TODAY)

    events = await events_of(app, prefix="report.")
    reports = await reports_of(client, agreement["id"])
    kinds = [(kind, data["id"]) for kind, data in events]
    assert kinds.count(("report.overdue", reports[0]["id"])) == 1
    assert kinds.count(("report.due", reports[1]["id"])) == 1
    assert [kind for kind, _ in events].count("report.opened") == 3
    assert (first[1:], again[1:]) == ((1, 1), (0, 0))


async def test_report_changes_are_events_in_the_agreements_sequence(app, client, agreement) -> None:
    report = await _drafted(client, (await _opened(app, client, agreement))[0])
    await move_report(client, report["id"], "submitted")
    await move_report(client, report["id"], "returned", comment="Add figures.")

    async with app.state.sessionmaker() as session:
        from sqlalchemy import select

        from shared.models import OutboxEvent

        rows = (
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.aggregate_id == uuid.UUID(agreement["id"]))
                .order_by(OutboxEvent.sequence)
            )
        ).all()
    sequences = [row.sequence for row in rows]
    returned = [row for row in rows if row.type == "report.returned"]
    assert sequences == list(range(1, len(rows) + 1))
    assert returned[0].data["previous_status"] == "submitted"
    assert {"report.opened", "report.updated", "report.submitted"} <= {row.type for row in rows}


async def test_another_partys_key_cannot_draft_the_reporters_report(
    app, client, agreement, parties
) -> None:
    report = (await _opened(app, client, agreement))[0]
    key = await make_key(app, ["read", "write"], organization_id=uuid.UUID(parties[0]["id"]))

    async with client_for(app, key) as other:
        response = await patch_report(other, report, narrative="Written for them.")

    assert response.status_code == 403, response.text


async def test_an_objective_an_indicator_names_cannot_be_removed(client, parties) -> None:
    agreement = await create_agreement(client, parties=parties)
    initiative = await create_initiative(client, agreement)  # serves O1
    await create_indicator(client, initiative["id"], objective_ref="O2")

    response = await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={"objectives": [{"ref": "O1", "text": "Capacity building of policymakers."}]},
        headers={"If-Match": f'"{agreement["version"]}"'},
    )

    assert response.status_code == 409, response.text
    assert "O2" in response.json()["detail"]


async def test_an_initiative_with_indicators_cannot_be_deleted(client, agreement) -> None:
    initiative = await create_initiative(client, agreement)
    await create_indicator(client, initiative["id"])

    response = await client.delete(
        f"/v1/initiatives/{initiative['id']}", headers={"If-Match": f'"{initiative["version"]}"'}
    )

    assert response.status_code == 409, response.text
    assert "indicators" in response.json()["detail"]


async def test_a_report_can_carry_documents(app, client, agreement) -> None:
    from tests.api.legal_factories import create_document

    report = (await _opened(app, client, agreement))[0]

    document = await create_document(client, "report", report["id"], kind="report")
    listed = (
        await client.get("/v1/documents", params={"owner_type": "report", "owner_id": report["id"]})
    ).json()

    assert [item["id"] for item in listed["items"]] == [document["id"]]
