"""The agreement lifecycle moves its open initiatives in the same transaction."""

from __future__ import annotations

from tests.api.tracking_factories import (
    active_agreement,
    create_initiative,
    events_of,
    move_initiative,
)
from tests.factories import transition


async def _statuses(client, agreement_id: str) -> list[str]:
    response = await client.get("/v1/initiatives", params={"agreement_id": agreement_id})
    return [initiative["status"] for initiative in response.json()["items"]]


async def _three_initiatives(client, agreement: dict) -> list[dict]:
    """One planned, one in progress, one completed."""
    planned = await create_initiative(client, agreement)
    started = await create_initiative(client, agreement)
    done = await create_initiative(client, agreement)
    await move_initiative(client, started["id"], "in_progress")
    await move_initiative(client, done["id"], "in_progress")
    await move_initiative(client, done["id"], "completed")
    return [planned, started, done]


async def test_suspending_puts_open_initiatives_on_hold(client) -> None:
    agreement = await active_agreement(client)
    await _three_initiatives(client, agreement)

    response = await transition(client, agreement["id"], "suspended", reason="Review")

    assert response.status_code == 200
    assert await _statuses(client, agreement["id"]) == ["on_hold", "on_hold", "completed"]


async def test_resuming_restores_exactly_what_suspension_paused(client) -> None:
    agreement = await active_agreement(client)
    await _three_initiatives(client, agreement)
    await transition(client, agreement["id"], "suspended")

    await transition(client, agreement["id"], "active")

    assert await _statuses(client, agreement["id"]) == ["planned", "in_progress", "completed"]


async def test_resuming_leaves_on_hold_what_was_on_hold_before(client) -> None:
    agreement = await active_agreement(client)
    held = await create_initiative(client, agreement)
    await move_initiative(client, held["id"], "in_progress")
    await move_initiative(client, held["id"], "on_hold")
    await transition(client, agreement["id"], "suspended")

    await transition(client, agreement["id"], "active")

    assert await _statuses(client, agreement["id"]) == ["on_hold"]


async def test_an_initiative_cancelled_during_suspension_stays_cancelled(client) -> None:
    agreement = await active_agreement(client)
    initiative = await create_initiative(client, agreement)
    await move_initiative(client, initiative["id"], "in_progress")
    await transition(client, agreement["id"], "suspended")
    await move_initiative(client, initiative["id"], "cancelled")

    await transition(client, agreement["id"], "active")

    assert await _statuses(client, agreement["id"]) == ["cancelled"]


async def test_terminating_cancels_open_initiatives(client) -> None:
    agreement = await active_agreement(client)
    await _three_initiatives(client, agreement)

    await transition(client, agreement["id"], "terminated", reason="Funding ended")

    assert await _statuses(client, agreement["id"]) == ["cancelled", "cancelled", "completed"]


async def test_terminating_a_suspended_agreement_cancels_paused_initiatives(client) -> None:
    agreement = await active_agreement(client)
    await _three_initiatives(client, agreement)
    await transition(client, agreement["id"], "suspended")

    await transition(client, agreement["id"], "terminated", reason="Not resumed")

    assert await _statuses(client, agreement["id"]) == ["cancelled", "cancelled", "completed"]


async def test_each_cascaded_initiative_gets_its_status_changed_event(client, app) -> None:
    agreement = await active_agreement(client)
    planned, started, _done = await _three_initiatives(client, agreement)
    before = len(await events_of(app))

    await transition(client, agreement["id"], "suspended")

    events = (await events_of(app))[before:]
    assert [(event_type, data["id"]) for event_type, data in events] == [
        ("agreement.status_changed", agreement["id"]),
        ("initiative.status_changed", planned["id"]),
        ("initiative.status_changed", started["id"]),
    ]
    assert [data["previous_status"] for _, data in events[1:]] == ["planned", "in_progress"]
    assert all(data["status"] == "on_hold" for _, data in events[1:])


async def test_moves_that_do_not_cascade_leave_initiatives_alone(client, app) -> None:
    agreement = await active_agreement(client)
    await _three_initiatives(client, agreement)

    await transition(client, agreement["id"], "completed")

    assert await _statuses(client, agreement["id"]) == ["planned", "in_progress", "completed"]


async def test_cascaded_initiatives_get_a_new_version(client) -> None:
    agreement = await active_agreement(client)
    initiative = await create_initiative(client, agreement)

    await transition(client, agreement["id"], "suspended")
    response = await client.get(f"/v1/initiatives/{initiative['id']}")

    assert response.headers["etag"] == '"2"'
