"""Indicators and measurements over HTTP (SPEC section 11), on both databases."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.api.results_factories import create_indicator, indicator_body, measure
from tests.api.tracking_factories import create_initiative, events_of
from tests.conftest import client_for, make_key
from tests.factories import create_agreement


# Asked at each use, not at import: a run may cross midnight (UTC).
def tomorrow() -> str:
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()


@pytest.fixture
async def agreement(client) -> dict:
    return await create_agreement(client)


@pytest.fixture
async def initiative(client, agreement) -> dict:
    return await create_initiative(client, agreement)


async def _patch(client, indicator: dict, **fields):
    return await client.patch(
        f"/v1/indicators/{indicator['id']}",
        json=fields,
        headers={"If-Match": f'"{indicator["version"]}"'},
    )


async def test_create_answers_the_indicator_with_nothing_measured(client, initiative) -> None:
    response = await client.post(
        f"/v1/initiatives/{initiative['id']}/indicators", json=indicator_body()
    )

    assert response.status_code == 201, response.text
    indicator = response.json()
    assert indicator["initiative_id"] == initiative["id"]
    assert indicator["agreement_id"] == initiative["agreement_id"]
    assert indicator["baseline"] == {"value": 0, "on": "2023-09-04"}
    assert (indicator["latest"], indicator["achievement"]) == (None, None)
    assert response.headers["location"] == f"/v1/indicators/{indicator['id']}"
    assert response.headers["etag"] == '"1"'


async def test_a_measurement_sets_latest_and_achievement(client, initiative) -> None:
    indicator = await create_indicator(client, initiative["id"])
    await measure(client, indicator["id"], 35)

    read = (await client.get(f"/v1/indicators/{indicator['id']}")).json()

    assert read["latest"]["value"] == 35
    assert read["achievement"] == pytest.approx(35 / 120)


async def test_latest_is_the_measurement_with_the_latest_date(client, initiative) -> None:
    indicator = await create_indicator(client, initiative["id"])
    await measure(client, indicator["id"], 60, on="2024-06-30")
    await measure(client, indicator["id"], 35, on="2024-03-31")

    read = (await client.get(f"/v1/indicators/{indicator['id']}")).json()

    assert read["latest"]["value"] == 60


async def test_a_decreasing_indicator_achieves_as_the_value_falls(client, initiative) -> None:
    indicator = await create_indicator(
        client,
        initiative["id"],
        measure="percentage",
        baseline={"value": 40},
        target={"value": 10},
    )
    await measure(client, indicator["id"], 25)

    read = (await client.get(f"/v1/indicators/{indicator['id']}")).json()

    assert read["achievement"] == pytest.approx(0.5)


async def test_a_qualitative_indicator_takes_text_and_has_no_achievement(
    client, initiative
) -> None:
    indicator = await create_indicator(
        client,
        initiative["id"],
        measure="qualitative",
        unit=None,
        baseline={"value": "No zone plan"},
        target={"value": "Zone plan adopted"},
    )
    await measure(client, indicator["id"], "Draft plan under consultation")

    read = (await client.get(f"/v1/indicators/{indicator['id']}")).json()

    assert read["latest"]["value"] == "Draft plan under consultation"
    assert read["achievement"] is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"measure": "unit", "baseline": {"value": "none"}},
        {"measure": "percentage", "target": {"value": "all"}},
        {"measure": "qualitative", "baseline": {"value": 0}, "target": {"value": "adopted"}},
        {"measure": "unit", "target": {"value": True}},
        {"measure": "ratio"},
        {"baseline": None},
        {"target": {"on": "2025-12-31"}},
        {"title": ""},
    ],
)
async def test_values_that_do_not_fit_the_measure_are_refused(
    client, initiative, overrides
) -> None:
    response = await client.post(
        f"/v1/initiatives/{initiative['id']}/indicators", json=indicator_body(**overrides)
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_objective_must_be_one_of_the_agreement(client, initiative) -> None:
    response = await client.post(
        f"/v1/initiatives/{initiative['id']}/indicators", json=indicator_body(objective_ref="O9")
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "objective_ref"]


@pytest.mark.parametrize("value", ["thirty-five", True, None])
async def test_a_measurement_must_be_a_number_for_a_unit_indicator(
    client, initiative, value
) -> None:
    indicator = await create_indicator(client, initiative["id"])

    response = await client.post(
        f"/v1/indicators/{indicator['id']}/measurements", json={"value": value, "on": "2024-03-31"}
    )

    assert response.status_code == 422, response.text


async def test_a_qualitative_measurement_must_be_text(client, initiative) -> None:
    indicator = await create_indicator(
        client,
        initiative["id"],
        measure="qualitative",
        baseline={"value": "No plan"},
        target={"value": "Plan adopted"},
    )

    response = await client.post(
        f"/v1/indicators/{indicator['id']}/measurements", json={"value": 3, "on": "2024-03-31"}
    )

    assert response.status_code == 422, response.text


async def test_a_measurement_cannot_be_dated_in_the_future(client, initiative) -> None:
    indicator = await create_indicator(client, initiative["id"])

    response = await client.post(
        f"/v1/indicators/{indicator['id']}/measurements", json={"value": 3, "on": tomorrow()}
    )

    assert response.status_code == 422, response.text


async def test_measurements_are_listed_in_recording_order_with_cursors(client, initiative) -> None:
    indicator = await create_indicator(client, initiative["id"])
    for value in (10, 20, 30):
        await measure(client, indicator["id"], value)

    first = (await client.get(f"/v1/indicators/{indicator['id']}/measurements?limit=2")).json()
    rest = (
        await client.get(
            f"/v1/indicators/{indicator['id']}/measurements",
            params={"limit": 2, "cursor": first["next_cursor"]},
        )
    ).json()

    assert [m["value"] for m in first["items"] + rest["items"]] == [10, 20, 30]
    assert rest["next_cursor"] is None


async def test_a_measurement_moves_the_indicator_version(client, initiative) -> None:
    indicator = await create_indicator(client, initiative["id"])
    await measure(client, indicator["id"], 35)

    response = await client.get(f"/v1/indicators/{indicator['id']}")

    assert response.json()["version"] == 2
    assert response.headers["etag"] == '"2"'


async def test_the_list_filters_by_initiative_and_by_agreement(client, agreement) -> None:
    first = await create_initiative(client, agreement)
    second = await create_initiative(client, agreement, objective_ref="O2")
    other = await create_initiative(client, await create_agreement(client))
    mine = await create_indicator(client, first["id"])
    await measure(client, mine["id"], 35)
    theirs = await create_indicator(client, second["id"], objective_ref="O2")
    await create_indicator(client, other["id"])

    by_initiative = (await client.get(f"/v1/indicators?initiative_id={first['id']}")).json()
    by_agreement = (await client.get(f"/v1/indicators?agreement_id={agreement['id']}")).json()

    assert [i["id"] for i in by_initiative["items"]] == [mine["id"]]
    assert by_initiative["items"][0]["latest"]["value"] == 35
    assert [i["id"] for i in by_agreement["items"]] == [mine["id"], theirs["id"]]


async def test_patch_changes_the_target_and_the_achievement_follows(client, initiative) -> None:
    indicator = await create_indicator(client, initiative["id"])
    await measure(client, indicator["id"], 35)
    current = (await client.get(f"/v1/indicators/{indicator['id']}")).json()

    response = await _patch(client, current, target={"value": 70})

    assert response.status_code == 200, response.text
    assert response.json()["achievement"] == pytest.approx(0.5)


async def test_patch_needs_if_match(client, initiative) -> None:
    indicator = await create_indicator(client, initiative["id"])

    response = await client.patch(f"/v1/indicators/{indicator['id']}", json={"title": "New"})

    assert response.status_code == 428


async def test_patch_refuses_a_measure_change_once_measured(client, initiative) -> None:
    indicator = await create_indicator(client, initiative["id"])
    await measure(client, indicator["id"], 35)
    current = (await client.get(f"/v1/indicators/{indicator['id']}")).json()

    response = await _patch(
        client,
        current,
        measure="qualitative",
        baseline={"value": "none"},
        target={"value": "all"},
    )

    assert response.status_code == 409, response.text


async def test_patch_refuses_a_measure_the_values_do_not_fit(client, initiative) -> None:
    indicator = await create_indicator(client, initiative["id"])

    response = await _patch(client, indicator, measure="qualitative")

    assert response.status_code == 422, response.text


async def test_delete_removes_the_indicator_and_its_measurements(client, initiative) -> None:
    indicator = await create_indicator(client, initiative["id"])
    await measure(client, indicator["id"], 35)
    current = (await client.get(f"/v1/indicators/{indicator['id']}")).json()

    response = await client.delete(
        f"/v1/indicators/{indicator['id']}", headers={"If-Match": f'"{current["version"]}"'}
    )

    assert response.status_code == 204
    assert (await client.get(f"/v1/indicators/{indicator['id']}")).status_code == 404


async def test_every_change_is_an_event_on_the_agreement(app, client, initiative) -> None:
    indicator = await create_indicator(client, initiative["id"])
    await measure(client, indicator["id"], 35)
    current = (await client.get(f"/v1/indicators/{indicator['id']}")).json()
    updated = (await _patch(client, current, title="Policymakers trained (cumulative)")).json()
    await client.delete(
        f"/v1/indicators/{indicator['id']}", headers={"If-Match": f'"{updated["version"]}"'}
    )

    events = await events_of(app, prefix="indicator.")

    assert [kind for kind, _ in events] == [
        "indicator.created",
        "indicator.measured",
        "indicator.updated",
        "indicator.deleted",
    ]
    measured = events[1][1]
    assert measured["measurement"]["value"] == 35
    assert measured["achievement"] == pytest.approx(35 / 120)


async def test_a_key_bound_to_another_organization_sees_no_indicator(
    app, client, initiative
) -> None:
    indicator = await create_indicator(client, initiative["id"])
    outsider = (
        await client.post(
            "/v1/organizations", json={"name": "Outsider", "kind": "ngo", "country": "FR"}
        )
    ).json()
    key = await make_key(app, ["read", "write"], organization_id=uuid.UUID(outsider["id"]))

    async with client_for(app, key) as bound:
        read = await bound.get(f"/v1/indicators/{indicator['id']}")
        listed = (await bound.get("/v1/indicators")).json()
        measured = await bound.post(
            f"/v1/indicators/{indicator['id']}/measurements", json={"value": 1, "on": "2024-01-01"}
        )

    assert read.status_code == 404
    assert listed["items"] == []
    assert measured.status_code == 404


async def test_an_unknown_indicator_answers_404(client) -> None:
    response = await client.get(f"/v1/indicators/{uuid.uuid4()}")

    assert response.status_code == 404


async def test_removing_an_objective_an_indicator_names_answers_409(
    client, agreement, initiative
) -> None:
    await create_indicator(client, initiative["id"], objective_ref="O2")

    response = await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={"objectives": [{"ref": "O1", "text": "Capacity building."}]},
        headers={"If-Match": f'"{agreement["version"]}"'},
    )

    assert response.status_code == 409
    assert response.json()["detail"] == (
        "Objective O2 is named by indicators; change their objective_ref before removing it."
    )
