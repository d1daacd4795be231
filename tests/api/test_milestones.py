from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.api.tracking_factories import (
    create_engagement,
    create_initiative,
    create_milestone,
    events_of,
)
from tests.conftest import client_for, make_key
from tests.factories import Ref, create_agreement, listed_ids, resolved


# Asked at each use, not at import: a run may cross midnight (UTC), and the
# server's day is the one of the request.
def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def yesterday() -> str:
    return (today() - dt.timedelta(days=1)).isoformat()


def tomorrow() -> str:
    return (today() + dt.timedelta(days=1)).isoformat()


@pytest.fixture
async def agreement(client) -> dict:
    return await create_agreement(client)


@pytest.fixture
async def initiative(client, agreement) -> dict:
    return await create_initiative(client, agreement)


async def _patch(client, milestone: dict, **fields):
    return await client.patch(
        f"/v1/milestones/{milestone['id']}",
        json=fields,
        headers={"If-Match": f'"{milestone["version"]}"'},
    )


async def test_create_defaults_to_pending_under_the_initiative(client, initiative) -> None:
    response = await client.post(
        f"/v1/initiatives/{initiative['id']}/milestones",
        json={"title": "Curriculum agreed", "due_on": "2030-01-31"},
    )

    assert response.status_code == 201, response.text
    milestone = response.json()
    assert milestone["status"] == "pending"
    assert milestone["weight"] == 1
    assert milestone["completed_on"] is None
    assert milestone["overdue"] is False
    assert milestone["initiative_id"] == initiative["id"]
    assert milestone["agreement_id"] == initiative["agreement_id"]
    assert response.headers["location"] == f"/v1/milestones/{milestone['id']}"


@pytest.mark.parametrize(
    "body",
    [
        {"title": "No date"},
        {"title": "Bad date", "due_on": "2030-02-30"},
        {"title": "Zero weight", "due_on": "2030-01-01", "weight": 0},
        {"title": "Odd status", "due_on": "2030-01-01", "status": "finished"},
        {"title": "Early", "due_on": "2030-01-01", "completed_on": "2024-01-01"},
    ],
)
async def test_invalid_milestone_answers_422(client, initiative, body) -> None:
    response = await client.post(f"/v1/initiatives/{initiative['id']}/milestones", json=body)

    assert response.status_code == 422


async def test_unknown_initiative_answers_404(client) -> None:
    response = await client.post(
        f"/v1/initiatives/{uuid.uuid4()}/milestones", json={"title": "x", "due_on": "2030-01-01"}
    )

    assert response.status_code == 404


async def test_a_past_due_open_milestone_is_overdue(client, initiative) -> None:
    milestone = await create_milestone(client, initiative["id"], due_on=yesterday())

    assert milestone["overdue"] is True


async def test_a_done_milestone_is_never_overdue(client, initiative) -> None:
    milestone = await create_milestone(client, initiative["id"], due_on=yesterday())

    response = await _patch(client, milestone, status="done")

    assert response.json()["overdue"] is False


async def test_becoming_done_sets_completed_on_to_today(client, initiative) -> None:
    milestone = await create_milestone(client, initiative["id"])

    response = await _patch(client, milestone, status="done")

    assert response.status_code == 200, response.text
    assert response.json()["completed_on"] == today().isoformat()


async def test_becoming_done_keeps_a_given_completion_date(client, initiative) -> None:
    milestone = await create_milestone(client, initiative["id"])

    response = await _patch(client, milestone, status="done", completed_on="2024-05-01")

    assert response.json()["completed_on"] == "2024-05-01"


async def test_reopening_clears_completed_on(client, initiative) -> None:
    milestone = await create_milestone(
        client, initiative["id"], status="done", completed_on="2024-05-01"
    )

    response = await _patch(client, milestone, status="in_progress")

    assert response.json()["status"] == "in_progress"
    assert response.json()["completed_on"] is None


async def test_completed_on_cannot_be_in_the_future(client, initiative) -> None:
    milestone = await create_milestone(client, initiative["id"])

    response = await _patch(client, milestone, status="done", completed_on=tomorrow())

    assert response.status_code == 422


async def test_completed_on_on_an_open_milestone_answers_422(client, initiative) -> None:
    milestone = await create_milestone(client, initiative["id"])

    response = await _patch(client, milestone, completed_on="2024-05-01")

    assert response.status_code == 422


async def test_becoming_done_emits_milestone_completed(client, app, initiative) -> None:
    milestone = await create_milestone(client, initiative["id"])

    await _patch(client, milestone, status="done")

    [(_, data)] = await events_of(app, prefix="milestone.completed")
    assert data["id"] == milestone["id"]
    assert data["previous_status"] == "pending"


async def test_other_changes_emit_milestone_updated(client, app, initiative) -> None:
    milestone = await create_milestone(client, initiative["id"])

    await _patch(client, milestone, title="Curriculum signed off")

    assert [event for event, _ in await events_of(app, prefix="milestone.")] == [
        "milestone.created",
        "milestone.updated",
    ]


async def test_status_cannot_be_patched_to_null(client, initiative) -> None:
    milestone = await create_milestone(client, initiative["id"])

    response = await _patch(client, milestone, status=None)

    assert response.status_code == 422


async def test_patch_needs_if_match(client, initiative) -> None:
    milestone = await create_milestone(client, initiative["id"])

    response = await client.patch(f"/v1/milestones/{milestone['id']}", json={"title": "x"})

    assert response.status_code == 428


async def test_engagement_of_the_same_agreement_is_accepted(client, agreement, initiative) -> None:
    engagement = await create_engagement(client, agreement)

    milestone = await create_milestone(client, initiative["id"], engagement_id=engagement["id"])

    assert milestone["engagement_id"] == engagement["id"]


async def test_engagement_of_another_agreement_answers_422(client, initiative) -> None:
    other = await create_engagement(client, await create_agreement(client))

    response = await client.post(
        f"/v1/initiatives/{initiative['id']}/milestones",
        json={"title": "x", "due_on": "2030-01-01", "engagement_id": other["id"]},
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "engagement_id"]


@pytest.fixture
async def filtered(client, initiative) -> dict[str, dict]:
    """Milestones overdue, due later, done late, and under another agreement."""
    other_initiative = await create_initiative(client, await create_agreement(client))
    return {
        "initiative": initiative,
        "other_initiative": other_initiative,
        "overdue": await create_milestone(client, initiative["id"], due_on=yesterday()),
        "later": await create_milestone(client, initiative["id"], due_on="2030-06-30"),
        "done_late": await create_milestone(
            client, initiative["id"], due_on=yesterday(), status="done"
        ),
        "elsewhere": await create_milestone(client, other_initiative["id"], due_on="2029-01-01"),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"overdue": "true"}, ["overdue"], id="overdue"),
        pytest.param({"overdue": "false"}, ["later", "done_late", "elsewhere"], id="not-overdue"),
        pytest.param(
            {"initiative_id": Ref("initiative")},
            ["overdue", "later", "done_late"],
            id="initiative_id",
        ),
        pytest.param(
            {"agreement_id": Ref("other_initiative", "agreement_id")},
            ["elsewhere"],
            id="agreement_id",
        ),
        pytest.param({"status": "done"}, ["done_late"], id="status"),
        pytest.param(
            {"due_before": "2030-01-01"}, ["overdue", "done_late", "elsewhere"], id="due_before"
        ),
    ],
)
async def test_a_filter_lists_only_the_matching_milestones(
    client, filtered, params, expected
) -> None:
    ids = await listed_ids(client, "/v1/milestones", resolved(params, filtered))

    assert ids == [filtered[name]["id"] for name in expected]


async def test_pages_with_cursor_cover_every_milestone_once(client, initiative) -> None:
    created = [(await create_milestone(client, initiative["id"]))["id"] for _ in range(5)]

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/milestones", params=params)).json()
        seen.extend(milestone["id"] for milestone in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == created


async def test_delete_emits_milestone_deleted(client, app, initiative) -> None:
    milestone = await create_milestone(client, initiative["id"])

    response = await client.delete(f"/v1/milestones/{milestone['id']}", headers={"If-Match": '"1"'})

    assert response.status_code == 204
    assert (await events_of(app))[-1][0] == "milestone.deleted"


async def test_an_organization_bound_key_cannot_see_other_agreements_milestones(
    app, client, initiative
) -> None:
    milestone = await create_milestone(client, initiative["id"])
    outsider = await create_agreement(client)
    key = await make_key(
        app, ["read"], organization_id=uuid.UUID(outsider["parties"][0]["organization_id"])
    )

    async with client_for(app, key) as bound:
        listed = (await bound.get("/v1/milestones")).json()["items"]
        fetched = await bound.get(f"/v1/milestones/{milestone['id']}")

    assert listed == []
    assert fetched.status_code == 404
