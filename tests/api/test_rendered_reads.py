"""Stored JSON (shared.rendered) answers exactly what rendering on the spot answers,
after every kind of write, on both databases; and the route's own headers apply."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from shared.models import Agreement
from shared.rendered import KINDS
from shared.rollups.store import recompute_agreement
from tests.api.act_factories import negotiating_agreement, record_act
from tests.conftest import client_for, make_key
from tests.factories import agreement_body, create_agreement, create_organization, transition

# Per-request values: the request id, and the remaining quota.
_VARYING_HEADERS = {"x-request-id", "ratelimit"}


def _comparable(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {
        name: value for name, value in response.headers.items() if name not in _VARYING_HEADERS
    }
    return response.status_code, headers, response.content


async def _stored(app, agreement_id: str) -> str | None:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        return await session.scalar(
            select(Agreement.rendered).where(Agreement.id == uuid.UUID(agreement_id))
        )


async def _forget(app, agreement_ids: list[str] | None = None) -> None:  # type: ignore[no-untyped-def]
    """Drop stored JSON, so that the routes render on the spot."""
    async with app.state.sessionmaker() as session:
        for kind in KINDS:
            table = kind.table
            values: dict[str, Any] = {"rendered": None}
            if "updated_at" in table.c:
                values["updated_at"] = table.c.updated_at
            statement = update(table).values(**values)
            if agreement_ids is not None:
                if kind.model is not Agreement:
                    continue
                statement = statement.where(
                    table.c.id.in_([uuid.UUID(id_) for id_ in agreement_ids])
                )
            await session.execute(statement)
        await session.commit()


async def _stored_then_live(app, client, paths: list[str]) -> list[tuple[Any, Any]]:  # type: ignore[no-untyped-def]
    stored = [await client.get(path) for path in paths]
    await _forget(app)
    live = [await client.get(path) for path in paths]
    return [(_comparable(a), _comparable(b)) for a, b in zip(stored, live, strict=True)]


async def test_a_created_agreement_is_stored_as_the_route_answers_it(app, client) -> None:
    """A create writes its JSON with its row: the create's answer, the stored body
    and the body rendered on the spot are the same bytes."""
    first, second = await create_organization(client), await create_organization(client)
    created = await client.post(
        "/v1/agreements",
        json=agreement_body(
            [first["id"], second["id"]],
            summary="With every field",
            focus_areas=["energy", "water"],
            objectives=[{"ref": "O1", "text": "One"}, {"ref": "O2", "text": "Two"}],
            signed_at="Beijing",
            effective_from="2030-01-01",
            expires_on="2035-01-01",
        ),
    )
    assert created.status_code == 201, created.text

    body = await _stored(app, created.json()["id"])
    assert body is not None
    assert created.content == body.encode()
    await _forget(app, [created.json()["id"]])
    live = await client.get(f"/v1/agreements/{created.json()['id']}")
    assert live.content == created.content


async def test_after_every_kind_of_write_the_stored_answer_is_the_live_one(app, client) -> None:
    agreement, stza, gei = await negotiating_agreement(client)
    path = f"/v1/agreements/{agreement['id']}"

    current = (await client.get(path)).headers["etag"]
    patched = await client.patch(
        path,
        json={"title": "A changed title", "focus_areas": ["joint research", "zones"]},
        headers={"If-Match": current},
    )
    assert patched.status_code == 200, patched.text
    # A party act changes the party's dates (agreement_parties only).
    signed = await record_act(client, agreement["id"], stza["id"], "signature", "2026-03-01")
    assert signed.status_code == 201, signed.text
    await record_act(client, agreement["id"], gei["id"], "signature", "2026-03-02")
    moved = await transition(client, agreement["id"], "signed")
    assert moved.status_code == 200, moved.text

    stored = (await client.get(path)).json()
    assert stored["title"] == "A changed title"
    assert stored["status"] == "signed"
    assert {party["signed_on"] for party in stored["parties"]} == {"2026-03-01", "2026-03-02"}
    history = f"{path}/history"
    assert [entry["to"] for entry in (await client.get(history)).json()["items"]] == [
        "negotiation",
        "signed",
    ]
    for answered, rendered_now in await _stored_then_live(app, client, [path, history]):
        assert answered == rendered_now


async def test_initiatives_and_rollups_answer_their_stored_json_as_rendered_live(
    app, client
) -> None:
    agreement, stza, _gei = await negotiating_agreement(client)
    created = await client.post(
        f"/v1/agreements/{agreement['id']}/initiatives",
        json={"title": "Policymaker training", "lead_organization_id": stza["id"]},
    )
    assert created.status_code == 201, created.text
    initiative = created.json()
    patched = await client.patch(
        f"/v1/initiatives/{initiative['id']}",
        json={"title": "Policymaker training, first cohort"},
        headers={"If-Match": created.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    milestone = await client.post(
        f"/v1/initiatives/{initiative['id']}/milestones",
        json={"title": 'First cohort trained ,"overdue":false, (sic)', "due_on": "2020-06-30"},
    )
    assert milestone.status_code == 201, milestone.text
    upcoming = await client.post(
        f"/v1/initiatives/{initiative['id']}/milestones",
        json={"title": "Second cohort trained", "due_on": "2099-06-30"},
    )
    assert upcoming.status_code == 201, upcoming.text
    # An update through the object (rendered from it, not loaded again).
    done = await client.patch(
        f"/v1/milestones/{upcoming.json()['id']}",
        json={"status": "done", "title": "Second cohort trained early"},
        headers={"If-Match": upcoming.headers["etag"]},
    )
    assert done.status_code == 200, done.text
    # What the worker does after such changes.
    async with app.state.sessionmaker() as session:
        await recompute_agreement(session, uuid.UUID(agreement["id"]))
        await session.commit()
    async with app.state.sessionmaker() as session:
        for kind in KINDS:
            assert await session.scalar(select(kind.table.c.rendered).limit(1)) is not None
    paths = [
        f"/v1/initiatives/{initiative['id']}",
        f"/v1/initiatives?agreement_id={agreement['id']}",
        f"/v1/agreements/{agreement['id']}/rollup",
        f"/v1/initiatives/{initiative['id']}/rollup",
        f"/v1/milestones/{milestone.json()['id']}",
        f"/v1/milestones/{upcoming.json()['id']}",
        f"/v1/milestones?initiative_id={initiative['id']}",
        f"/v1/milestones?overdue=true&agreement_id={agreement['id']}",
    ]

    assert (await client.get(paths[0])).json()["title"] == "Policymaker training, first cohort"
    # Stored with overdue false; the day's value is put in at read.
    overdue = [item["overdue"] for item in (await client.get(paths[6])).json()["items"]]
    assert overdue == [True, False]

    answers = await _stored_then_live(app, client, paths)

    for answered, rendered_now in answers:
        assert answered[0] == 200
        assert answered == rendered_now


@pytest.mark.parametrize(
    "query", ["", "?limit=2", "?status=draft", "?limit=1&status=draft", "?q=nothing-matches"]
)
async def test_pages_of_stored_json_are_the_pages_rendered_live(app, client, query) -> None:
    organizations = [await create_organization(client) for _ in range(3)]
    for index in range(4):
        await create_agreement(client, [organizations[index % 3], organizations[(index + 1) % 3]])
    oldest = (await client.get("/v1/agreements?limit=1")).json()["items"][0]
    await transition(client, oldest["id"], "negotiation")
    paths = [f"/v1/agreements{query}"]
    first = (await client.get(paths[0])).json()
    if first["next_cursor"]:
        paths.append(f"/v1/agreements?cursor={first['next_cursor']}&{query.lstrip('?')}")

    for answered, rendered_now in await _stored_then_live(app, client, paths):
        assert answered == rendered_now


async def test_a_page_with_one_row_not_stored_yet_is_rendered_whole(app, client) -> None:
    first, second = await create_organization(client), await create_organization(client)
    kept = await create_agreement(client, [first, second])
    dropped = await create_agreement(client, [second, first])
    await _forget(app, [dropped["id"]])

    page = await client.get("/v1/agreements")

    assert [item["id"] for item in page.json()["items"]] == [kept["id"], dropped["id"]]
    assert page.json()["items"][1] == (await client.get(f"/v1/agreements/{dropped['id']}")).json()


async def test_a_bound_key_sees_only_its_organizations_stored_agreements(app, client) -> None:
    ours, theirs, partner = [await create_organization(client) for _ in range(3)]
    mine = await create_agreement(client, [ours, partner])
    other = await create_agreement(client, [theirs, partner])
    key = await make_key(app, ["read"], organization_id=uuid.UUID(ours["id"]))

    async with client_for(app, key) as bound:
        assert (await bound.get(f"/v1/agreements/{mine['id']}")).status_code == 200
        assert (await bound.get(f"/v1/agreements/{other['id']}")).status_code == 404
        listed = (await bound.get("/v1/agreements")).json()["items"]

    assert [item["id"] for item in listed] == [mine["id"]]


# A header set in the route's own dependency shows on stored answers, and on
# answers the response cache gives again: tests/api/test_response_cache.py.


def _agreement_object(title: str, organization_ids: list[uuid.UUID]) -> Agreement:
    """A new agreement as an ORM object, its organizations its signatories."""
    from shared.ids import uuid7
    from shared.models import AgreementParty

    return Agreement(
        id=uuid7(),
        reference=f"MEM-{uuid.uuid4().hex[:8]}",
        title=title,
        instrument_type="mou",
        legal_character="non_binding",
        focus_areas=[],
        objectives=[],
        status="draft",
        terms_version=1,
        parties=[
            AgreementParty(organization_id=organization_id, role="signatory", position=index)
            for index, organization_id in enumerate(organization_ids)
        ],
    )


async def _create_in_session(app, organization_ids: list[str], then) -> str:  # type: ignore[no-untyped-def]
    """Insert an agreement through its ORM object (as any ORM write would), run
    ``then`` in the same transaction, commit; the agreement's id. (The API's
    create writes rows with their JSON instead: the test above.)"""
    async with app.state.sessionmaker() as session:
        agreement = _agreement_object(
            "Rendered from the inserted object, or not",
            [uuid.UUID(organization_id) for organization_id in organization_ids[:2]],
        )
        session.add(agreement)
        await session.flush()
        await then(session, agreement)
        await session.commit()
        return str(agreement.id)


async def _assert_stored_is_live(app, client, agreement_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    stored = await _stored(app, agreement_id)
    assert stored is not None
    await _forget(app, [agreement_id])
    live = await client.get(f"/v1/agreements/{agreement_id}")
    assert live.status_code == 200
    assert stored.encode() == live.content
    return live.json()


async def test_a_new_row_is_rendered_from_its_object_only_while_that_says_all_of_it(
    app, client
) -> None:
    """Rendering a row inserted in the transaction from its object (no reload) must
    give the bytes a reload gives, and stop as soon as the object may not say
    everything: a party added by its foreign key alone, or a later change."""
    from shared.models import AgreementParty

    organizations = [(await create_organization(client))["id"] for _ in range(3)]

    async def nothing(session, agreement) -> None:  # type: ignore[no-untyped-def]
        return None

    async def party_by_foreign_key(session, agreement) -> None:  # type: ignore[no-untyped-def]
        # Not through agreement.parties: the object in memory does not know it.
        session.add(
            AgreementParty(
                agreement_id=agreement.id,
                organization_id=uuid.UUID(organizations[2]),
                role="witness",
                position=2,
            )
        )
        await session.flush()

    async def later_change(session, agreement) -> None:  # type: ignore[no-untyped-def]
        await session.flush()
        agreement.title = "Retitled in the same transaction"
        await session.flush()

    plain = await _assert_stored_is_live(
        app, client, await _create_in_session(app, organizations, nothing)
    )
    assert len(plain["parties"]) == 2

    added = await _assert_stored_is_live(
        app, client, await _create_in_session(app, organizations, party_by_foreign_key)
    )
    assert [party["organization_id"] for party in added["parties"]] == organizations

    retitled = await _assert_stored_is_live(
        app, client, await _create_in_session(app, organizations, later_change)
    )
    assert retitled["title"] == "Retitled in the same transaction"


async def test_a_new_row_with_a_part_its_object_does_not_hold_is_loaded_again(app, client) -> None:
    """Inserted in one flush with the agreement, but by its foreign key alone: the
    agreement's ``parties`` in memory lacks it, so the body is loaded again."""
    from shared.models import AgreementParty

    first, second = [uuid.UUID((await create_organization(client))["id"]) for _ in range(2)]
    async with app.state.sessionmaker() as session:
        agreement = _agreement_object("Two parties, one of them unknown to the object", [first])
        session.add(agreement)
        session.add(
            AgreementParty(
                agreement_id=agreement.id, organization_id=second, role="signatory", position=1
            )
        )
        await session.commit()
        agreement_id = str(agreement.id)

    live = await _assert_stored_is_live(app, client, agreement_id)
    assert [party["organization_id"] for party in live["parties"]] == [str(first), str(second)]


async def test_an_updated_milestone_gets_its_body_in_its_own_update(app, client) -> None:
    """A PATCH through the object writes the row and its body in one UPDATE (no
    second statement at commit), and that body is the one rendered on the spot;
    so is the body after an update in a session that sets no ``updated_at``."""
    from sqlalchemy import event

    from shared.models import Milestone
    from tests.api.tracking_factories import active_agreement, create_initiative, create_milestone

    agreement = await active_agreement(client)
    initiative = await create_initiative(client, agreement)
    milestone = await create_milestone(client, initiative["id"], due_on="2030-01-31")
    path = f"/v1/milestones/{milestone['id']}"
    updates: list[str] = []

    def seen(_conn, _cursor, statement: str, *_args: object) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE MILESTONES"):
            updates.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        response = await client.patch(
            path, json={"status": "done"}, headers={"If-Match": f'"{milestone["version"]}"'}
        )
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert response.status_code == 200, response.text
    assert len(updates) == 1, updates
    assert "rendered" in updates[0]
    [(stored, live)] = await _stored_then_live(app, client, [path])
    assert stored == live
    assert response.json()["version"] == milestone["version"] + 1

    # Changed in a session of its own, without touching updated_at: the column's
    # onupdate time is the one in the body.
    async with app.state.sessionmaker() as session:
        row = await session.get(Milestone, uuid.UUID(milestone["id"]))
        assert row is not None
        row.title = "Retitled outside the API"
        await session.commit()
    [(stored, live)] = await _stored_then_live(app, client, [path])
    assert stored == live
    assert live[2].count(b"Retitled outside the API") == 1
