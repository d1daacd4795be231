"""Calendar feeds through HTTP, parsed back with `icalendar` (RFC 5545)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import get_args

import icalendar
import pytest

from shared.calendar.schemas import FeedContent
from shared.calendar.service import SOURCES
from shared.dashboard.links import agreement_url
from tests.api.tracking_factories import create_engagement, create_initiative, create_milestone
from tests.conftest import client_for, make_key
from tests.factories import create_agreement, create_organization


async def create_feed(client, **body) -> dict:  # type: ignore[no-untyped-def]
    response = await client.post("/v1/calendar-feeds", json={"name": "Deadlines", **body})
    assert response.status_code == 201, response.text
    return response.json()


async def fetch_calendar(client, url: str) -> icalendar.Calendar:  # type: ignore[no-untyped-def]
    # No api key: calendar clients cannot send one.
    response = await client.get(url, headers={"Authorization": ""})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    return icalendar.Calendar.from_ical(response.content)


def events_by_uid(calendar: icalendar.Calendar) -> dict[str, icalendar.Event]:
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


@pytest.fixture
async def milestone(client) -> dict:  # type: ignore[no-untyped-def]
    agreement = await create_agreement(client, expires_on="2031-09-04")
    initiative = await create_initiative(client, agreement)
    return await create_milestone(client, initiative["id"], due_on="2030-01-31")


async def test_create_answers_the_secret_url_once(client, milestone) -> None:
    feed = await create_feed(client)

    assert feed["url"].startswith("/calendar/cal_") and feed["url"].endswith(".ics")
    listed = (await client.get("/v1/calendar-feeds")).json()["items"]
    assert [item["id"] for item in listed] == [feed["id"]]
    assert "url" not in listed[0]
    assert "url" not in (await client.get(f"/v1/calendar-feeds/{feed['id']}")).json()


async def test_feed_is_a_calendar_with_its_name_and_all_day_entries(client, milestone) -> None:
    feed = await create_feed(client, name="STZA-GEI deadlines")

    calendar = await fetch_calendar(client, feed["url"])

    assert str(calendar["x-wr-calname"]) == "STZA-GEI deadlines"
    entry = events_by_uid(calendar)[f"milestone-{milestone['id']}@accords"]
    assert entry.decoded("dtstart") == dt.date(2030, 1, 31)
    assert entry.decoded("dtend") == dt.date(2030, 2, 1)
    assert "dtstamp" in entry
    assert "/app/agreements/" in str(entry["description"])


async def test_an_edited_milestone_keeps_its_uid_and_increments_its_sequence(
    client, milestone
) -> None:
    feed = await create_feed(client, include=["milestones"])
    uid = f"milestone-{milestone['id']}@accords"
    before = events_by_uid(await fetch_calendar(client, feed["url"]))[uid]

    response = await client.patch(
        f"/v1/milestones/{milestone['id']}",
        json={"due_on": "2030-02-28"},
        headers={"If-Match": f'"{milestone["version"]}"'},
    )
    assert response.status_code == 200, response.text
    after = events_by_uid(await fetch_calendar(client, feed["url"]))[uid]

    assert int(after["sequence"]) == int(before["sequence"]) + 1
    assert after.decoded("dtstart") == dt.date(2030, 2, 28)


async def test_a_cancelled_milestone_comes_back_cancelled(client, milestone) -> None:
    feed = await create_feed(client, include=["milestones"])
    response = await client.patch(
        f"/v1/milestones/{milestone['id']}",
        json={"status": "cancelled"},
        headers={"If-Match": f'"{milestone["version"]}"'},
    )
    assert response.status_code == 200, response.text

    entry = events_by_uid(await fetch_calendar(client, feed["url"]))[
        f"milestone-{milestone['id']}@accords"
    ]

    assert str(entry["status"]) == "CANCELLED"


async def test_include_limits_what_the_feed_holds(client, milestone) -> None:
    agreement_id = milestone["agreement_id"]
    agreement = (await client.get(f"/v1/agreements/{agreement_id}")).json()
    await create_engagement(client, agreement)
    feed = await create_feed(client, include=["expiries"])

    uids = set(events_by_uid(await fetch_calendar(client, feed["url"])))

    assert uids == {f"agreement-expiry-{agreement_id}@accords"}


async def test_engagements_span_their_days(client, milestone) -> None:
    agreement = (await client.get(f"/v1/agreements/{milestone['agreement_id']}")).json()
    engagement = await create_engagement(
        client, agreement, starts_on="2030-03-02", ends_on="2030-03-04"
    )
    feed = await create_feed(client, include=["engagements"])

    entry = events_by_uid(await fetch_calendar(client, feed["url"]))[
        f"engagement-{engagement['id']}@accords"
    ]

    assert entry.decoded("dtstart") == dt.date(2030, 3, 2)
    assert entry.decoded("dtend") == dt.date(2030, 3, 5)


async def test_an_agreement_scoped_feed_holds_only_that_agreement(client, milestone) -> None:
    other = await create_agreement(client)
    other_initiative = await create_initiative(client, other)
    await create_milestone(client, other_initiative["id"])
    feed = await create_feed(client, agreement_id=milestone["agreement_id"], include=["milestones"])

    uids = set(events_by_uid(await fetch_calendar(client, feed["url"])))

    assert uids == {f"milestone-{milestone['id']}@accords"}


async def test_an_organization_bound_creators_feed_holds_nothing_of_other_agreements(
    app, client, milestone
) -> None:
    theirs = await create_agreement(client)
    their_initiative = await create_initiative(client, theirs)
    await create_milestone(client, their_initiative["id"])
    mine = (await client.get(f"/v1/agreements/{milestone['agreement_id']}")).json()
    organization = mine["parties"][0]["organization_id"]
    key = await make_key(app, ["read"], organization_id=uuid.UUID(organization))
    async with client_for(app, key) as bound:
        feed = await create_feed(bound, include=["milestones", "expiries"])

        uids = set(events_by_uid(await fetch_calendar(bound, feed["url"])))

    assert uids == {
        f"milestone-{milestone['id']}@accords",
        f"agreement-expiry-{mine['id']}@accords",
    }


async def test_a_bound_key_cannot_scope_a_feed_to_an_agreement_it_cannot_see(
    app, client, milestone
) -> None:
    outsider = await create_organization(client)
    key = await make_key(app, ["read"], organization_id=uuid.UUID(outsider["id"]))
    async with client_for(app, key) as bound:
        response = await bound.post(
            "/v1/calendar-feeds",
            json={"name": "Peek", "agreement_id": milestone["agreement_id"]},
        )

    assert response.status_code == 422, response.text


async def test_a_deleted_feed_answers_404(client, milestone) -> None:
    feed = await create_feed(client)

    assert (await client.delete(f"/v1/calendar-feeds/{feed['id']}")).status_code == 204
    response = await client.get(feed["url"], headers={"Authorization": ""})

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_deleting_the_creating_key_makes_the_url_answer_404(app, client, milestone) -> None:
    key = await make_key(app, ["read"])
    async with client_for(app, key) as reader:
        feed = await create_feed(reader)
    key_id = next(
        item["id"]
        for item in (await client.get("/v1/api-keys", params={"limit": 200})).json()["items"]
        if key.startswith(item["key_prefix"]) and item["name"] == "test read"
    )

    assert (await client.delete(f"/v1/api-keys/{key_id}")).status_code == 204
    response = await client.get(feed["url"], headers={"Authorization": ""})

    assert response.status_code == 404


async def test_an_unknown_token_answers_404(client) -> None:
    response = await client.get("/calendar/cal_nothing.ics", headers={"Authorization": ""})

    assert response.status_code == 404


async def test_a_key_sees_only_the_feeds_it_created(app, client, milestone) -> None:
    await create_feed(client)
    key = await make_key(app, ["read"])
    async with client_for(app, key) as reader:
        assert (await reader.get("/v1/calendar-feeds")).json()["items"] == []


async def test_scoping_to_both_an_agreement_and_an_organization_is_refused(client) -> None:
    organization = await create_organization(client)
    agreement = await create_agreement(client)
    response = await client.post(
        "/v1/calendar-feeds",
        json={
            "name": "Both",
            "agreement_id": agreement["id"],
            "organization_id": organization["id"],
        },
    )

    assert response.status_code == 422


async def test_the_demo_feed_holds_the_mous_milestones_expiry_and_reports(app, client) -> None:
    from services.demo import load_demo

    summary = await load_demo(app.state.settings)
    url = summary.split("a calendar feed at ", 1)[1].split()[0].rstrip(".;")

    uids = set(events_by_uid(await fetch_calendar(client, url)))

    assert any(uid.startswith("milestone-") for uid in uids)
    assert any(uid.startswith("agreement-expiry-") for uid in uids)
    assert any(uid.startswith("report-") for uid in uids)


def test_every_kind_a_feed_may_include_has_one_source() -> None:
    assert tuple(SOURCES) == get_args(FeedContent)


def test_entries_link_to_the_agreements_dashboard_page() -> None:
    agreement_id = uuid.uuid4()

    assert agreement_url("https://accords.example/", agreement_id) == (
        f"https://accords.example/app/agreements/{agreement_id}"
    )
    assert agreement_url("https://accords.example", None) == "https://accords.example/app/"
