"""The embedded path: the in-process broker and worker threads of `accords dev`."""

from __future__ import annotations

from tests.api.tracking_factories import active_agreement, create_initiative, create_milestone
from tests.worker.conftest import eventually, rollup_of


async def complete(client, milestone):  # type: ignore[no-untyped-def]
    response = await client.patch(
        f"/v1/milestones/{milestone['id']}",
        json={"status": "done"},
        headers={"If-Match": f'"{milestone["version"]}"'},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_completed_milestone_shows_in_the_agreement_rollup(piped_client) -> None:
    agreement = await active_agreement(piped_client)
    initiative = await create_initiative(piped_client, agreement)
    first = await create_milestone(piped_client, initiative["id"])
    await create_milestone(piped_client, initiative["id"])
    await complete(piped_client, first)

    rollup = await eventually(
        lambda: rollup_of(piped_client, agreement["id"]),
        lambda body: body["milestones"]["done"] == 1 and body["progress"] == 0.5,
    )
    assert rollup["initiatives"]["by_status"] == {"planned": 1}
