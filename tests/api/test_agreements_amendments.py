"""Amendments and terms versions (SPEC §10): effective-dated changes of the terms."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest

from services.worker.sweep import sweep_once
from shared.agreements.amendments import apply_amendment, apply_due_amendments
from shared.agreements.reads import get_agreement
from shared.errors import Conflict
from shared.events import Actor
from shared.models import Amendment
from tests.api.act_factories import events_of
from tests.api.legal_factories import upload
from tests.conftest import client_for, make_key
from tests.factories import create_agreement, create_organization, transition

SIGNED_ON = "2023-09-04"
EXPIRES_ON = "2028-09-03"


async def _active(client, **overrides):  # type: ignore[no-untyped-def]
    agreement = await create_agreement(
        client, signed_on=SIGNED_ON, effective_from=SIGNED_ON, expires_on=EXPIRES_ON, **overrides
    )
    for target in ("negotiation", "signed", "active"):
        moved = await transition(client, agreement["id"], target)
        assert moved.status_code == 200, moved.text
    return moved.json()


def _extension(effective_from: str, expires_on: str = "2030-09-03", **fields) -> dict:  # type: ignore[no-untyped-def]
    return {
        "title": "Extension by two years",
        "kind": "extension",
        "effective_from": effective_from,
        "changes": {"expires_on": expires_on},
        **fields,
    }


async def _amend(client, agreement_id: str, body: dict):  # type: ignore[no-untyped-def]
    return await client.post(f"/v1/agreements/{agreement_id}/amendments", json=body)


def _days_from_today(days: int) -> str:
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days)).isoformat()


async def test_an_amendment_dated_in_the_past_is_applied_at_once(client) -> None:
    agreement = await _active(client)

    response = await _amend(client, agreement["id"], _extension("2025-01-01"))
    fetched = (await client.get(f"/v1/agreements/{agreement['id']}")).json()

    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/amendments/{response.json()['id']}"
    assert (response.json()["status"], response.json()["terms_version"]) == ("applied", 2)
    assert (fetched["expires_on"], fetched["terms_version"]) == ("2030-09-03", 2)
    assert fetched["version"] == agreement["version"] + 1


async def test_an_amendment_dated_in_the_future_stays_pending_and_changes_nothing(client) -> None:
    agreement = await _active(client)

    response = await _amend(client, agreement["id"], _extension(_days_from_today(30)))
    fetched = (await client.get(f"/v1/agreements/{agreement['id']}")).json()

    assert (response.json()["status"], response.json()["terms_version"]) == ("pending", None)
    assert (fetched["expires_on"], fetched["terms_version"]) == (EXPIRES_ON, 1)


async def test_a_new_agreement_starts_at_terms_version_1(client) -> None:
    agreement = await create_agreement(client)

    assert agreement["terms_version"] == 1


async def test_terms_version_is_read_only(client) -> None:
    agreement = await create_agreement(client)

    response = await client.patch(
        f"/v1/agreements/{agreement['id']}", json={"terms_version": 5}, headers={"If-Match": '"1"'}
    )

    assert response.status_code == 422


async def test_versions_hold_the_first_terms_and_each_amended_one(client) -> None:
    agreement = await _active(client)
    amendment = (await _amend(client, agreement["id"], _extension("2025-01-01"))).json()

    page = (await client.get(f"/v1/agreements/{agreement['id']}/versions")).json()

    first, second = page["items"]
    assert (first["n"], first["effective_from"], first["amendment_id"]) == (1, SIGNED_ON, None)
    assert first["terms"]["expires_on"] == EXPIRES_ON
    assert first["terms"]["parties"] == [
        {"organization_id": entry["organization_id"], "role": entry["role"]}
        for entry in agreement["parties"]
    ]
    assert (second["n"], second["effective_from"], second["amendment_id"]) == (
        2,
        "2025-01-01",
        amendment["id"],
    )
    assert second["terms"]["expires_on"] == "2030-09-03"


async def test_one_version_is_read_by_its_number(client) -> None:
    agreement = await _active(client)
    await _amend(client, agreement["id"], _extension("2025-01-01"))

    second = await client.get(f"/v1/agreements/{agreement['id']}/versions/2")
    missing = await client.get(f"/v1/agreements/{agreement['id']}/versions/3")

    assert second.json()["terms"]["expires_on"] == "2030-09-03"
    assert missing.status_code == 404
    assert "no terms version 3" in missing.json()["detail"]


async def test_as_of_before_and_after_an_applied_extension_answers_old_and_new_terms(
    client,
) -> None:
    agreement = await _active(client)
    await _amend(client, agreement["id"], _extension("2025-01-01"))

    before = (await client.get(f"/v1/agreements/{agreement['id']}?as_of=2024-12-31")).json()
    on_the_day = (await client.get(f"/v1/agreements/{agreement['id']}?as_of=2025-01-01")).json()

    assert (before["expires_on"], before["terms_version"]) == (EXPIRES_ON, 1)
    assert (on_the_day["expires_on"], on_the_day["terms_version"]) == ("2030-09-03", 2)


async def test_as_of_before_the_first_version_answers_the_first_version(client) -> None:
    agreement = await _active(client)
    await _amend(client, agreement["id"], _extension("2025-01-01"))

    response = await client.get(f"/v1/agreements/{agreement['id']}?as_of=2020-01-01")

    assert response.status_code == 200
    assert (response.json()["terms_version"], response.json()["expires_on"]) == (1, EXPIRES_ON)
    assert response.json()["effective_from"] == SIGNED_ON


async def test_as_of_counts_only_the_acts_on_or_before_the_date(client) -> None:
    agreement = await create_agreement(client)
    party_id = agreement["parties"][0]["organization_id"]
    await client.post(
        f"/v1/agreements/{agreement['id']}/party-acts",
        json={"organization_id": party_id, "act": "signature", "on": "2023-09-04"},
    )

    earlier = (await client.get(f"/v1/agreements/{agreement['id']}?as_of=2023-09-03")).json()
    later = (await client.get(f"/v1/agreements/{agreement['id']}?as_of=2023-09-04")).json()

    assert earlier["parties"][0]["signed_on"] is None
    assert later["parties"][0]["signed_on"] == "2023-09-04"


async def test_a_malformed_as_of_answers_422(client) -> None:
    agreement = await create_agreement(client)

    response = await client.get(f"/v1/agreements/{agreement['id']}?as_of=2024-02-30")

    assert response.status_code == 422


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"expires_on": "2023-01-01"}, "expires_on"),
        ({"objectives": [{"ref": "O1", "text": "a"}, {"ref": "O1", "text": "b"}]}, "objectives"),
        ({}, "changes"),
        ({"status": "active"}, "status"),
        ({"title": None}, "title"),
        ({"parties": []}, "parties"),
    ],
)
async def test_changes_breaking_the_agreement_rules_answer_422(client, changes, where) -> None:
    agreement = await _active(client)

    response = await _amend(
        client, agreement["id"], {**_extension("2025-01-01"), "changes": changes}
    )

    assert response.status_code == 422, response.text
    assert where in str(response.json())


async def test_changes_naming_an_unknown_organization_answer_422_at_its_place(client) -> None:
    agreement = await _active(client)
    ghost = str(uuid.uuid4())
    parties = [*agreement["parties"], {"organization_id": ghost, "role": "funder"}]
    changes = {"parties": [{k: p[k] for k in ("organization_id", "role")} for p in parties]}

    response = await _amend(
        client, agreement["id"], {**_extension("2025-01-01"), "changes": changes}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == [
        "body",
        "changes",
        "parties",
        2,
        "organization_id",
    ]


async def test_a_signed_agreement_keeps_two_signatories_through_an_amendment(client) -> None:
    agreement = await _active(client)
    lone = agreement["parties"][0]
    changes = {"parties": [{"organization_id": lone["organization_id"], "role": "signatory"}]}

    response = await _amend(
        client, agreement["id"], {**_extension("2025-01-01"), "changes": changes}
    )

    assert response.status_code == 409
    assert "two parties with role 'signatory'" in response.json()["detail"]


async def test_an_amendment_changes_objectives_after_signing_which_a_patch_cannot(client) -> None:
    agreement = await _active(client)
    objectives = [{"ref": "O1", "text": "Capacity building."}, {"ref": "O5", "text": "New."}]

    patched = await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={"objectives": objectives},
        headers={"If-Match": f'"{agreement["version"]}"'},
    )
    amended = await _amend(
        client,
        agreement["id"],
        {
            "title": "New objective",
            "kind": "objectives",
            "effective_from": "2025-01-01",
            "changes": {"objectives": objectives},
        },
    )
    fetched = (await client.get(f"/v1/agreements/{agreement['id']}")).json()

    assert patched.status_code == 409
    assert amended.status_code == 201, amended.text
    assert [objective["ref"] for objective in fetched["objectives"]] == ["O1", "O5"]


async def test_an_amendment_cannot_take_effect_before_the_version_in_force(client) -> None:
    agreement = await _active(client)
    await _amend(client, agreement["id"], _extension("2025-01-01"))

    response = await _amend(client, agreement["id"], _extension("2024-06-01", "2031-01-01"))

    assert response.status_code == 422
    assert "2025-01-01" in response.json()["detail"]


async def test_a_cancelled_agreement_cannot_be_amended(client) -> None:
    agreement = await create_agreement(client)
    await transition(client, agreement["id"], "cancelled")

    response = await _amend(client, agreement["id"], _extension("2025-01-01"))

    assert response.status_code == 409


async def test_an_applied_amendment_cannot_be_changed_or_deleted(client) -> None:
    agreement = await _active(client)
    amendment = (await _amend(client, agreement["id"], _extension("2025-01-01"))).json()
    etag = {"If-Match": f'"{amendment["version"]}"'}

    patched = await client.patch(
        f"/v1/amendments/{amendment['id']}", json={"title": "Other"}, headers=etag
    )
    deleted = await client.delete(f"/v1/amendments/{amendment['id']}", headers=etag)

    assert (patched.status_code, deleted.status_code) == (409, 409)
    assert "applied" in patched.json()["detail"] and "applied" in deleted.json()["detail"]


async def test_deleting_a_pending_amendment_withdraws_it(client) -> None:
    agreement = await _active(client)
    amendment = (await _amend(client, agreement["id"], _extension(_days_from_today(30)))).json()

    deleted = await client.delete(f"/v1/amendments/{amendment['id']}", headers={"If-Match": '"1"'})
    fetched = await client.get(f"/v1/amendments/{amendment['id']}")
    again = await client.delete(f"/v1/amendments/{amendment['id']}", headers={"If-Match": '"2"'})

    assert deleted.status_code == 204
    assert fetched.json()["status"] == "withdrawn"
    assert again.status_code == 409


async def test_patching_a_pending_amendment_replaces_its_changes(client) -> None:
    agreement = await _active(client)
    amendment = (await _amend(client, agreement["id"], _extension(_days_from_today(30)))).json()

    response = await client.patch(
        f"/v1/amendments/{amendment['id']}",
        json={"changes": {"expires_on": "2031-01-01"}},
        headers={"If-Match": '"1"'},
    )

    assert response.status_code == 200, response.text
    assert response.json()["changes"] == {"expires_on": "2031-01-01"}
    assert (response.json()["status"], response.json()["version"]) == ("pending", 2)


async def test_moving_a_pending_amendment_to_today_applies_it(client) -> None:
    agreement = await _active(client)
    amendment = (await _amend(client, agreement["id"], _extension(_days_from_today(30)))).json()

    response = await client.patch(
        f"/v1/amendments/{amendment['id']}",
        json={"effective_from": _days_from_today(0)},
        headers={"If-Match": '"1"'},
    )
    fetched = (await client.get(f"/v1/agreements/{agreement['id']}")).json()

    assert response.json()["status"] == "applied"
    assert fetched["expires_on"] == "2030-09-03"


async def test_patching_an_amendment_with_a_stale_etag_answers_412(client) -> None:
    agreement = await _active(client)
    amendment = (await _amend(client, agreement["id"], _extension(_days_from_today(30)))).json()

    response = await client.patch(
        f"/v1/amendments/{amendment['id']}", json={"title": "x"}, headers={"If-Match": '"7"'}
    )

    assert response.status_code == 412


async def test_the_amendments_list_filters_by_status(client) -> None:
    agreement = await _active(client)
    applied = (await _amend(client, agreement["id"], _extension("2025-01-01"))).json()
    await _amend(client, agreement["id"], _extension(_days_from_today(30), "2032-01-01"))

    page = await client.get(
        f"/v1/agreements/{agreement['id']}/amendments", params={"status": "applied"}
    )

    assert [item["id"] for item in page.json()["items"]] == [applied["id"]]


async def test_a_patch_of_the_agreement_corrects_the_version_in_force(client) -> None:
    agreement = await create_agreement(client)

    await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={"title": "Corrected title"},
        headers={"If-Match": '"1"'},
    )
    versions = (await client.get(f"/v1/agreements/{agreement['id']}/versions")).json()["items"]

    assert [(version["n"], version["terms"]["title"]) for version in versions] == [
        (1, "Corrected title")
    ]


async def test_applying_emits_amendment_created_then_agreement_amended(client, app) -> None:
    agreement = await _active(client)
    amendment = (await _amend(client, agreement["id"], _extension("2025-01-01"))).json()

    events = await events_of(app, agreement["id"])

    assert [event.type for event in events][-2:] == ["amendment.created", "agreement.amended"]
    amended = events[-1].data
    assert (amended["expires_on"], amended["terms_version"]) == ("2030-09-03", 2)
    assert amended["amendment"]["id"] == amendment["id"]
    assert amended["amendment"]["status"] == "applied"
    assert [event.sequence for event in events] == list(range(1, len(events) + 1))


async def test_the_sweep_applies_a_future_amendment_on_its_day_exactly_once(
    client, app, settings
) -> None:
    agreement = await _active(client)
    day = _days_from_today(30)
    amendment = (await _amend(client, agreement["id"], _extension(day))).json()

    the_day_before = await sweep_once(
        app.state.sessionmaker, settings, today=dt.date.fromisoformat(day) - dt.timedelta(days=1)
    )
    first = await sweep_once(app.state.sessionmaker, settings, today=dt.date.fromisoformat(day))
    second = await sweep_once(app.state.sessionmaker, settings, today=dt.date.fromisoformat(day))
    fetched = (await client.get(f"/v1/amendments/{amendment['id']}")).json()
    events = [event.type for event in await events_of(app, agreement["id"])]

    assert (the_day_before.amended, first.amended, second.amended) == (0, 1, 0)
    assert (fetched["status"], fetched["terms_version"]) == ("applied", 2)
    assert events.count("agreement.amended") == 1


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_two_racing_applications_apply_an_amendment_once(client, app) -> None:
    agreement = await _active(client)
    day = _days_from_today(30)
    await _amend(client, agreement["id"], _extension(day))

    async def apply_in_own_transaction() -> int:
        async with app.state.sessionmaker() as session:
            applied = await apply_due_amendments(session, dt.date.fromisoformat(day))
            await session.commit()
            return applied

    results = await asyncio.gather(apply_in_own_transaction(), apply_in_own_transaction())
    versions = (await client.get(f"/v1/agreements/{agreement['id']}/versions")).json()["items"]

    assert sorted(results) == [0, 1]
    assert [version["n"] for version in versions] == [1, 2]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_two_racing_sweeps_apply_an_amendment_once(client, app, settings) -> None:
    agreement = await _active(client)
    day = dt.date.fromisoformat(_days_from_today(30))
    await _amend(client, agreement["id"], _extension(day.isoformat()))

    reports = await asyncio.gather(
        sweep_once(app.state.sessionmaker, settings, today=day),
        sweep_once(app.state.sessionmaker, settings, today=day),
    )
    events = [event.type for event in await events_of(app, agreement["id"])]

    assert sum(report.amended for report in reports) == 1
    assert events.count("agreement.amended") == 1


async def test_a_bound_key_meets_another_agreements_amendments_as_missing(client, app) -> None:
    agreement = await _active(client)
    amendment = (await _amend(client, agreement["id"], _extension(_days_from_today(30)))).json()
    outsider = await create_organization(client)
    key = await make_key(app, ["read", "write"], organization_id=uuid.UUID(outsider["id"]))

    async with client_for(app, key) as bound:
        answers = [
            await bound.get(f"/v1/amendments/{amendment['id']}"),
            await bound.get(f"/v1/agreements/{agreement['id']}/amendments"),
            await bound.get(f"/v1/agreements/{agreement['id']}/versions"),
            await bound.get(f"/v1/agreements/{agreement['id']}/versions/1"),
            await bound.patch(
                f"/v1/amendments/{amendment['id']}",
                json={"title": "x"},
                headers={"If-Match": '"1"'},
            ),
            await bound.delete(f"/v1/amendments/{amendment['id']}", headers={"If-Match": '"1"'}),
            await _amend(bound, agreement["id"], _extension("2025-01-01")),
        ]

    assert [answer.status_code for answer in answers] == [404] * 7


async def test_an_amendment_holds_documents_seen_as_its_agreement_is(client, app) -> None:
    agreement = await _active(client)
    amendment = (await _amend(client, agreement["id"], _extension("2025-01-01"))).json()
    outsider = await create_organization(client)
    key = await make_key(app, ["read"], organization_id=uuid.UUID(outsider["id"]))

    uploaded = await upload(client, "amendment", amendment["id"], filename="extension.pdf")
    async with client_for(app, key) as bound:
        hidden = await bound.get(f"/v1/documents/{uploaded.json()['id']}")

    assert uploaded.status_code == 201, uploaded.text
    assert hidden.status_code == 404


async def test_deleting_a_draft_agreement_deletes_its_amendments_documents(client) -> None:
    agreement = await create_agreement(client)
    amendment = (await _amend(client, agreement["id"], _extension(_days_from_today(30)))).json()
    document = (await upload(client, "amendment", amendment["id"])).json()

    deleted = await client.delete(f"/v1/agreements/{agreement['id']}", headers={"If-Match": '"1"'})

    assert deleted.status_code == 204
    assert (await client.get(f"/v1/amendments/{amendment['id']}")).status_code == 404
    assert (await client.get(f"/v1/documents/{document['id']}")).status_code == 404


async def test_an_amendment_that_no_longer_fits_stays_pending_and_the_others_apply(
    client, app, settings
) -> None:
    agreement = await _active(client)
    day = dt.date.fromisoformat(_days_from_today(30))
    dropping = (
        await _amend(
            client,
            agreement["id"],
            {
                "title": "Drop O2",
                "kind": "objectives",
                "effective_from": day.isoformat(),
                "changes": {"objectives": [agreement["objectives"][0]]},
            },
        )
    ).json()
    extending = (await _amend(client, agreement["id"], _extension(day.isoformat()))).json()
    initiative = await client.post(
        f"/v1/agreements/{agreement['id']}/initiatives",
        json={
            "title": "Collaborative research",
            "objective_ref": "O2",
            "lead_organization_id": agreement["parties"][0]["organization_id"],
        },
    )
    assert initiative.status_code == 201, initiative.text

    report = await sweep_once(app.state.sessionmaker, settings, today=day)
    statuses = [
        (await client.get(f"/v1/amendments/{amendment['id']}")).json()["status"]
        for amendment in (dropping, extending)
    ]

    assert report.amended == 1
    assert statuses == ["pending", "applied"]


async def test_a_pending_amendment_of_an_agreement_closed_since_is_never_applied(
    client, app, settings
) -> None:
    agreement = await _active(client)
    day = dt.date.fromisoformat(_days_from_today(30))
    amendment = (await _amend(client, agreement["id"], _extension(day.isoformat()))).json()
    ended = await transition(client, agreement["id"], "terminated", reason="Partner withdrew")
    assert ended.status_code == 200, ended.text

    report = await sweep_once(app.state.sessionmaker, settings, today=day)
    async with app.state.sessionmaker() as session, session.begin():
        later = await apply_due_amendments(session, day + dt.timedelta(days=1))
    fetched = (await client.get(f"/v1/amendments/{amendment['id']}")).json()
    closed = (await client.get(f"/v1/agreements/{agreement['id']}")).json()
    events = [event.type for event in await events_of(app, agreement["id"])]
    withdrawn = await client.delete(
        f"/v1/amendments/{amendment['id']}", headers={"If-Match": f'"{fetched["version"]}"'}
    )

    assert (report.amended, later) == (0, 0)
    assert (fetched["status"], fetched["terms_version"]) == ("pending", None)
    assert (closed["status"], closed["expires_on"], closed["terms_version"]) == (
        "terminated",
        EXPIRES_ON,
        1,
    )
    assert "agreement.amended" not in events
    assert withdrawn.status_code == 204


async def test_applying_a_pending_amendment_to_a_closed_agreement_is_refused(client, app) -> None:
    agreement = await _active(client)
    day = _days_from_today(30)
    amendment = (await _amend(client, agreement["id"], _extension(day))).json()
    await transition(client, agreement["id"], "terminated", reason="Partner withdrew")

    async with app.state.sessionmaker() as session:
        closed = await get_agreement(session, uuid.UUID(agreement["id"]), for_update=True)
        pending = await session.get(Amendment, uuid.UUID(amendment["id"]))
        assert pending is not None
        with pytest.raises(Conflict, match="terminated agreement can no longer be amended"):
            await apply_amendment(
                session, actor=Actor.system(request_id="test"), agreement=closed, amendment=pending
            )
        await session.rollback()
    fetched = (await client.get(f"/v1/amendments/{amendment['id']}")).json()

    assert fetched["status"] == "pending"
