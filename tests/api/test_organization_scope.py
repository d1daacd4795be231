"""The organization-scope matrix: a key bound to organization A against every
resource and operation.

The world: organizations A, B, C; agreement "ours" (A and B) and "theirs"
(B and C), each with an initiative, a milestone, an engagement, a research
collaboration; a webhook endpoint per side (ours made by the bound key, theirs
by an admin) with deliveries from the worker's fan-out; events in the feed.

Each row runs once against "theirs", where it must answer exactly what the
same request answers for an id that does not exist (404, or 422 for a body
reference) and change nothing; and once against "ours", where it must not
answer 404 (a control, so that the matrix can fail).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Table, insert, select

from services.worker.fanout import fan_out
from services.worker.relay import assign_positions
from shared.db import Base
from shared.models import OutboxEvent
from shared.settings import Settings
from tests.api.tracking_factories import (
    create_engagement,
    create_initiative,
    create_milestone,
    create_research,
    engagement_body,
    initiative_body,
    research_body,
)
from tests.conftest import client_for, make_key
from tests.factories import agreement_body, create_agreement, create_organization


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        log_format="console",
        log_level="warning",
        environment="test",
        webhook_allow_private_targets=True,
    )


@dataclass
class Side:
    ids: dict[str, str]
    agreement: dict[str, Any]


@dataclass
class World:
    ours: Side
    theirs: Side
    organizations: dict[str, str]
    bound: httpx.AsyncClient


async def _side(client: httpx.AsyncClient, parties: list[dict[str, Any]]) -> Side:
    agreement = await create_agreement(client, parties=parties)
    initiative = await create_initiative(client, agreement)
    milestone = await create_milestone(client, initiative["id"])
    engagement = await create_engagement(client, agreement)
    research = await create_research(
        client, [party["id"] for party in parties], agreement_id=agreement["id"]
    )
    return Side(
        ids={
            "agreement": agreement["id"],
            "initiative": initiative["id"],
            "milestone": milestone["id"],
            "engagement": engagement["id"],
            "research": research["id"],
        },
        agreement=agreement,
    )


async def _endpoint(client: httpx.AsyncClient) -> str:
    response = await client.post(
        "/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/hooks", "description": "x"}
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _deliver_events(app) -> None:  # type: ignore[no-untyped-def]
    """What the worker does with committed events: feed positions and fan-out."""
    async with app.state.sessionmaker() as session:
        await assign_positions(session)
        for event in (await session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))).all():
            await fan_out(session, event)
        await session.commit()


async def _first_delivery(client: httpx.AsyncClient, endpoint_id: str, agreement_id: str) -> str:
    response = await client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries?limit=200")
    assert response.status_code == 200, response.text
    for delivery in response.json()["items"]:
        if delivery["event_type"] == "agreement.created":
            return delivery["id"]
    raise AssertionError(f"no agreement.created delivery for {agreement_id}")


@dataclass(frozen=True)
class _Built:
    """A world as first built on one database, and every row it left there."""

    ours: Side
    theirs: Side
    organizations: dict[str, str]
    key: str
    rows: list[tuple[Table, list[dict[str, Any]]]]


# Per database (each xdist worker builds its own): the world costs some twenty
# writes through the API and the worker's fan-out, for each of ~190 tests.
# Built once, then put back row for row into the tables the test started with
# emptied: every test meets the same rows, and none sees another's changes.
_BUILT: dict[str, _Built] = {}
_NOT_RESTORED = {"rate_limit_counters"}


async def _all_rows(engine) -> list[tuple[Table, list[dict[str, Any]]]]:  # type: ignore[no-untyped-def]
    rows = []
    async with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name in _NOT_RESTORED:
                continue
            found = (await connection.execute(select(table))).mappings().all()
            if found:
                rows.append((table, [dict(row) for row in found]))
    return rows


async def _restore(engine, rows: list[tuple[Table, list[dict[str, Any]]]]) -> None:  # type: ignore[no-untyped-def]
    async with engine.begin() as connection:
        for table, table_rows in rows:  # parents first (sorted_tables)
            await connection.execute(insert(table), table_rows)


async def _build_world(client, app) -> _Built:  # type: ignore[no-untyped-def]
    a = await create_organization(client, name="Alpha")
    b = await create_organization(client, name="Beta")
    c = await create_organization(client, name="Gamma")
    key = await make_key(app, ["read", "write", "webhooks"], organization_id=uuid.UUID(a["id"]))
    async with client_for(app, key) as bound:
        ours_endpoint = await _endpoint(bound)
        theirs_endpoint = await _endpoint(client)
        ours = await _side(client, [a, b])
        theirs = await _side(client, [b, c])
        await _deliver_events(app)
        ours.ids["endpoint"] = ours_endpoint
        theirs.ids["endpoint"] = theirs_endpoint
        ours.ids["delivery"] = await _first_delivery(bound, ours_endpoint, ours.ids["agreement"])
        theirs.ids["delivery"] = await _first_delivery(
            client, theirs_endpoint, theirs.ids["agreement"]
        )
    return _Built(
        ours=ours,
        theirs=theirs,
        organizations={"a": a["id"], "b": b["id"], "c": c["id"]},
        key=key,
        rows=await _all_rows(app.state.engine),
    )


@pytest.fixture
async def world(client, app, database_url):  # type: ignore[no-untyped-def]
    built = _BUILT.get(database_url)
    if built is None:
        built = _BUILT[database_url] = await _build_world(client, app)
    else:
        await _restore(app.state.engine, built.rows)
    async with client_for(app, built.key) as bound:
        yield World(
            ours=copy.deepcopy(built.ours),
            theirs=copy.deepcopy(built.theirs),
            organizations=dict(built.organizations),
            bound=bound,
        )


def _initiative(side: Side) -> dict[str, Any]:
    return initiative_body(
        side.agreement, lead_organization_id=side.agreement["parties"][1]["organization_id"]
    )


def _engagement(side: Side) -> dict[str, Any]:
    return engagement_body(side.agreement)


def _research(side: Side) -> dict[str, Any]:
    parties = [party["organization_id"] for party in side.agreement["parties"]]
    return research_body(parties, agreement_id=side.ids["agreement"])


MILESTONE = {"title": "Agreed curriculum", "due_on": "2031-01-31"}
OUTPUT = {"kind": "report", "title": "Zone planning report"}

# (method, path template, body: dict | callable(Side) | None)
OPERATIONS: list[tuple[str, str, Any]] = [
    ("GET", "/v1/agreements/{agreement}", None),
    ("PATCH", "/v1/agreements/{agreement}", {"title": "Renamed"}),
    ("DELETE", "/v1/agreements/{agreement}", None),
    ("POST", "/v1/agreements/{agreement}/transitions", {"to": "negotiation"}),
    ("GET", "/v1/agreements/{agreement}/history", None),
    ("GET", "/v1/agreements/{agreement}/rollup", None),
    ("POST", "/v1/agreements/{agreement}/initiatives", _initiative),
    ("GET", "/v1/initiatives/{initiative}", None),
    ("PATCH", "/v1/initiatives/{initiative}", {"title": "Renamed"}),
    ("DELETE", "/v1/initiatives/{initiative}", None),
    ("POST", "/v1/initiatives/{initiative}/transitions", {"to": "in_progress"}),
    ("POST", "/v1/initiatives/{initiative}/milestones", MILESTONE),
    ("GET", "/v1/initiatives/{initiative}/rollup", None),
    ("GET", "/v1/milestones/{milestone}", None),
    ("PATCH", "/v1/milestones/{milestone}", {"title": "Renamed"}),
    ("DELETE", "/v1/milestones/{milestone}", None),
    ("POST", "/v1/engagements", _engagement),
    ("GET", "/v1/engagements/{engagement}", None),
    ("PATCH", "/v1/engagements/{engagement}", {"title": "Renamed"}),
    ("DELETE", "/v1/engagements/{engagement}", None),
    ("POST", "/v1/research-collaborations", _research),
    ("GET", "/v1/research-collaborations/{research}", None),
    ("PATCH", "/v1/research-collaborations/{research}", {"title": "Renamed"}),
    ("DELETE", "/v1/research-collaborations/{research}", None),
    ("POST", "/v1/research-collaborations/{research}/outputs", OUTPUT),
    ("GET", "/v1/webhook-endpoints/{endpoint}", None),
    ("PATCH", "/v1/webhook-endpoints/{endpoint}", {"description": "Renamed"}),
    ("DELETE", "/v1/webhook-endpoints/{endpoint}", None),
    ("POST", "/v1/webhook-endpoints/{endpoint}/rotate-secret", None),
    ("POST", "/v1/webhook-endpoints/{endpoint}/test", None),
    ("GET", "/v1/webhook-endpoints/{endpoint}/deliveries", None),
    ("POST", "/v1/webhook-endpoints/{endpoint}/recover", {"since": "2020-01-01T00:00:00Z"}),
    ("GET", "/v1/webhook-deliveries/{delivery}", None),
    ("POST", "/v1/webhook-deliveries/{delivery}/retry", None),
]

# Operations whose target travels in the body: the missing analogue replaces it there.
BODY_REFERENCES = {"/v1/engagements": "agreement_id", "/v1/research-collaborations": "agreement_id"}


def _request_args(
    method: str, template: str, body: Any, side: Side, ids: dict[str, str]
) -> dict[str, Any]:
    path = template.format(**ids)
    payload = body(side) if callable(body) else body
    if template in BODY_REFERENCES and payload is not None:
        payload = {**payload, BODY_REFERENCES[template]: ids["agreement"]}
    headers = {"If-Match": "*"} if method in ("PATCH", "DELETE") else {}
    return {"method": method, "url": path, "json": payload, "headers": headers}


def _label(row: tuple[str, str, Any]) -> str:
    return f"{row[0]} {row[1]}"


@pytest.mark.parametrize("row", OPERATIONS, ids=_label)
async def test_bound_key_meets_theirs_as_missing(world, client, row) -> None:
    method, template, body = row
    theirs = world.theirs
    missing_ids = {name: str(uuid.uuid4()) for name in theirs.ids}

    answer = await world.bound.request(**_request_args(method, template, body, theirs, theirs.ids))
    missing = await world.bound.request(
        **_request_args(method, template, body, theirs, missing_ids)
    )

    assert answer.status_code in (404, 422), answer.text
    assert answer.status_code == missing.status_code
    assert answer.headers["content-type"] == missing.headers["content-type"]
    shape = ("type", "title", "status")
    assert {k: answer.json()[k] for k in shape} == {k: missing.json()[k] for k in shape}
    assert set(answer.json()) == set(missing.json())


@pytest.mark.parametrize("row", OPERATIONS, ids=_label)
async def test_bound_key_reaches_ours(world, row) -> None:
    method, template, body = row
    ours = world.ours

    answer = await world.bound.request(**_request_args(method, template, body, ours, ours.ids))

    assert answer.status_code != 404, answer.text


async def test_changes_refused_on_theirs_leave_it_untouched(world, client) -> None:
    theirs = world.theirs
    for method, template, body in OPERATIONS:
        if method != "GET":
            await world.bound.request(**_request_args(method, template, body, theirs, theirs.ids))
    agreement = await client.get(f"/v1/agreements/{theirs.ids['agreement']}")
    initiative = await client.get(f"/v1/initiatives/{theirs.ids['initiative']}")

    assert agreement.json()["version"] == theirs.agreement["version"]
    assert agreement.json()["status"] == "draft"
    assert initiative.json()["title"] != "Renamed"


# (list path, filter of theirs, filter of ours): the bound key lists only ours.
LISTS: list[tuple[str, str]] = [
    ("/v1/agreements", "agreement"),
    ("/v1/initiatives", "initiative"),
    ("/v1/milestones", "milestone"),
    ("/v1/engagements", "engagement"),
    ("/v1/research-collaborations", "research"),
    ("/v1/webhook-endpoints", "endpoint"),
]


@pytest.mark.parametrize(("path", "kind"), LISTS, ids=[path for path, _ in LISTS])
async def test_lists_show_only_ours(world, path, kind) -> None:
    listed = await world.bound.get(path, params={"limit": 200})

    ids = {item["id"] for item in listed.json()["items"]}
    assert world.ours.ids[kind] in ids
    assert world.theirs.ids[kind] not in ids


@pytest.mark.parametrize(
    "path",
    [
        "/v1/agreements",
        "/v1/initiatives",
        "/v1/milestones",
        "/v1/engagements",
        "/v1/research-collaborations",
    ],
)
async def test_filtering_on_theirs_finds_nothing(world, path) -> None:
    key = "agreement_id" if path != "/v1/agreements" else "organization_id"
    value = world.theirs.ids["agreement"] if key == "agreement_id" else world.organizations["c"]

    listed = await world.bound.get(path, params={key: value})

    assert listed.status_code == 200
    assert listed.json()["items"] == []


async def test_events_feed_holds_nothing_of_theirs(world) -> None:
    listed = await world.bound.get("/v1/events", params={"limit": 200})
    theirs = set(world.theirs.ids.values())

    events = listed.json()["items"]
    assert any(event["data"].get("id") == world.ours.ids["agreement"] for event in events)
    assert not [event for event in events if event["data"].get("id") in theirs]
    assert not [
        event
        for event in events
        if event["data"].get("agreement_id") == world.theirs.ids["agreement"]
    ]


async def test_own_endpoint_receives_nothing_of_theirs(world) -> None:
    endpoint = world.ours.ids["endpoint"]
    listed = await world.bound.get(
        f"/v1/webhook-endpoints/{endpoint}/deliveries", params={"limit": 200}
    )
    event_ids = [delivery["event_id"] for delivery in listed.json()["items"]]

    assert event_ids
    async with world.bound._transport.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        aggregates = set(
            (
                await session.scalars(
                    select(OutboxEvent.aggregate_id).where(
                        OutboxEvent.id.in_([uuid.UUID(event_id) for event_id in event_ids])
                    )
                )
            ).all()
        )
    assert uuid.UUID(world.theirs.ids["agreement"]) not in aggregates


async def test_portfolio_counts_only_ours(world, client) -> None:
    bound = (await world.bound.get("/v1/rollups/portfolio")).json()
    admin = (await client.get("/v1/rollups/portfolio")).json()

    assert bound != admin


async def test_bound_key_cannot_create_an_agreement_it_is_not_party_to(world) -> None:
    body = agreement_body([world.organizations["b"], world.organizations["c"]])

    response = await world.bound.post("/v1/agreements", json=body)

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "parties"]


async def test_bound_key_creates_an_agreement_it_is_party_to(world) -> None:
    body = agreement_body([world.organizations["a"], world.organizations["c"]])

    response = await world.bound.post("/v1/agreements", json=body)

    assert response.status_code == 201


async def test_bound_key_cannot_drop_its_organization_from_the_parties(world) -> None:
    parties = [{"organization_id": world.organizations["b"], "role": "signatory"}]

    response = await world.bound.patch(
        f"/v1/agreements/{world.ours.ids['agreement']}",
        json={"parties": parties},
        headers={"If-Match": "*"},
    )

    assert response.status_code == 422


async def test_bound_key_reads_the_organization_directory(world) -> None:
    listed = await world.bound.get("/v1/organizations")
    other = await world.bound.get(f"/v1/organizations/{world.organizations['c']}")

    assert {world.organizations[name] for name in "abc"} <= {
        item["id"] for item in listed.json()["items"]
    }
    assert other.status_code == 200


async def test_bound_key_changes_its_own_organization(world) -> None:
    response = await world.bound.patch(
        f"/v1/organizations/{world.organizations['a']}",
        json={"website": "https://alpha.example"},
        headers={"If-Match": "*"},
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "target"),
    [("PATCH", "c"), ("DELETE", "c"), ("DELETE", "a")],
)
async def test_bound_key_cannot_change_other_organizations(world, method, target) -> None:
    response = await world.bound.request(
        method,
        f"/v1/organizations/{world.organizations[target]}",
        json={"website": "https://x.example"} if method == "PATCH" else None,
        headers={"If-Match": "*"},
    )

    assert response.status_code == 403


async def test_bound_key_cannot_register_organizations(world) -> None:
    response = await world.bound.post(
        "/v1/organizations", json={"name": "Delta", "kind": "ngo", "country": "PK"}
    )

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/api-keys"), ("POST", "/v1/api-keys"), ("GET", "/v1/audit-log")],
)
async def test_bound_key_has_no_admin_routes(world, method, path) -> None:
    response = await world.bound.request(
        method, path, json={"name": "x", "scopes": ["read"]} if method == "POST" else None
    )

    assert response.status_code == 403


async def test_admin_key_cannot_be_bound(client, world) -> None:
    response = await client.post(
        "/v1/api-keys",
        json={"name": "x", "scopes": ["admin"], "organization_id": world.organizations["a"]},
    )

    assert response.status_code == 422
