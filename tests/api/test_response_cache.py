"""The response cache (services.api.response_cache) gives again, byte for byte, what the
route answered, and only while the data version and the day are those it was made at:
on both databases, for every read a dashboard or an integrator makes."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from fastapi import Request, Response
from sqlalchemy import text

from services.api.agreements.router import get_agreement, list_agreements
from services.api.app import create_app
from services.api.deps import SessionDep
from services.api.http import api_routes
from services.api.response_cache import Entry, ResponseCache
from shared.rollups.store import recompute_agreement
from shared.settings import Settings
from tests.api.act_factories import negotiating_agreement
from tests.api.tracking_factories import create_initiative, create_milestone
from tests.conftest import client_for, make_key
from tests.dashboard.browsing import signed_in
from tests.factories import create_agreement, create_organization

# Made per request outside the cache: the request id and the remaining quota.
_PER_REQUEST = {"x-request-id", "ratelimit"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # With an IATI publisher, so that the IATI export answers.
    return settings.model_copy(
        update={
            "iati_reporting_org_ref": "XM-OCHA-ACCORDS",
            "iati_reporting_org_type": "10",
            "iati_reporting_org_name": "Accords Secretariat",
        }
    )


def _check_of(app, endpoint):  # type: ignore[no-untyped-def]
    """The key-and-scope dependency of the route served by ``endpoint``."""
    route = next(route for route in api_routes(app) if route.endpoint is endpoint)
    return next(
        dependency.call
        for dependency in route.dependant.dependencies
        if getattr(dependency.call, "__name__", "") == "check"
    )


def _comparable(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {name: value for name, value in response.headers.items() if name not in _PER_REQUEST}
    return response.status_code, headers, response.content


async def _twice(app, client, path: str) -> tuple[httpx.Response, httpx.Response, int]:  # type: ignore[no-untyped-def]
    """The route's answer, the answer given again, and how many hits the second was."""
    cache: ResponseCache = app.state.response_cache
    first = await client.get(path)
    hits = cache.hits
    again = await client.get(path)
    return first, again, cache.hits - hits


async def _version(app) -> int:  # type: ignore[no-untyped-def]
    return await app.state.data_version_reader.read()


async def _recorded_agreement(app, client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """An agreement in negotiation with an initiative, two milestones and stored rollups."""
    agreement, _stza, _gei = await negotiating_agreement(client)
    initiative = await create_initiative(client, agreement, title="Policymaker training")
    for due_on in ("2020-06-30", "2099-06-30"):
        milestone = await create_milestone(client, initiative["id"], due_on=due_on)
    async with app.state.sessionmaker() as session:
        await recompute_agreement(session, uuid.UUID(agreement["id"]))
        await session.commit()
    return {"agreement": agreement, "initiative": initiative, "milestone": milestone}


def _reads(made: dict[str, Any]) -> list[str]:
    agreement_id = made["agreement"]["id"]
    initiative_id = made["initiative"]["id"]
    return [
        f"/v1/agreements/{agreement_id}",
        "/v1/agreements?status=negotiation&limit=50",
        "/v1/initiatives?status=planned&limit=50",
        "/v1/milestones?status=pending&limit=50",
        f"/v1/milestones/{made['milestone']['id']}",
        f"/v1/agreements/{agreement_id}/rollup",
        f"/v1/initiatives/{initiative_id}",
        f"/v1/initiatives/{initiative_id}/rollup",
        "/v1/rollups/portfolio",
        "/v1/events?limit=50",
        f"/v1/agreements/{agreement_id}/history",
        f"/v1/agreements/{agreement_id}/versions",
        f"/v1/agreements/{agreement_id}/iati.xml",
        "/v1/organizations",
        "/v1/audit-log",
    ]


async def test_every_read_is_given_again_byte_for_byte(app, client) -> None:
    made = await _recorded_agreement(app, client)

    for path in _reads(made):
        first, again, hits = await _twice(app, client, path)

        assert first.status_code == 200, (path, first.text)
        assert hits == 1, path
        assert _comparable(again) == _comparable(first), path


async def test_dashboard_pages_are_given_again_byte_for_byte(app, client) -> None:
    made = await _recorded_agreement(app, client)
    key = await make_key(app, ["admin"])
    async with signed_in(app, key) as browser:
        for path in ("/app/", f"/app/agreements/{made['agreement']['id']}", "/app/attention"):
            first, again, hits = await _twice(app, browser, path)

            assert first.status_code == 200, (path, first.text)
            assert first.headers["content-type"].startswith("text/html")
            assert hits == 1, path
            assert _comparable(again) == _comparable(first), path


async def test_head_of_a_cached_read_has_the_gets_headers(app, client) -> None:
    first, second = await create_organization(client), await create_organization(client)
    agreement = await create_agreement(client, [first, second])
    path = f"/v1/agreements/{agreement['id']}"
    answered = await client.get(path)

    head = await client.head(path)

    assert head.content == b""
    assert _comparable(head)[1] == _comparable(answered)[1]


async def test_after_a_write_the_next_read_is_made_again(app, client) -> None:
    first, second = await create_organization(client), await create_organization(client)
    agreement = await create_agreement(client, [first, second])
    path = f"/v1/agreements/{agreement['id']}"
    before, _, _ = await _twice(app, client, path)
    version = await _version(app)

    patched = await client.patch(
        path, json={"title": "Renamed"}, headers={"If-Match": before.headers["etag"]}
    )
    assert patched.status_code == 200, patched.text
    assert await _version(app) > version
    hits = app.state.response_cache.hits
    after = await client.get(path)

    assert app.state.response_cache.hits == hits
    assert after.json()["title"] == "Renamed"
    assert after.content == patched.content
    assert after.headers["etag"] == patched.headers["etag"] != before.headers["etag"]


async def test_a_write_in_another_process_is_seen_by_the_next_read(app, client, settings) -> None:
    first, second = await create_organization(client), await create_organization(client)
    agreement = await create_agreement(client, [first, second])
    path = f"/v1/agreements/{agreement['id']}"
    before, _, hits = await _twice(app, client, path)
    assert hits == 1
    other = create_app(settings)  # another API process on the same database

    async with other.router.lifespan_context(other):
        key = await make_key(other, ["admin"])
        async with client_for(other, key) as elsewhere:
            patched = await elsewhere.patch(
                path,
                json={"title": "Renamed elsewhere"},
                headers={"If-Match": before.headers["etag"]},
            )
            assert patched.status_code == 200, patched.text

    assert (await client.get(path)).json()["title"] == "Renamed elsewhere"


async def test_a_revoked_key_is_refused_not_answered_again(app, client) -> None:
    key = await make_key(app, ["read"])
    async with client_for(app, key) as reader:
        _, again, hits = await _twice(app, reader, "/v1/organizations")
        assert (again.status_code, hits) == (200, 1)
        keys = (await client.get("/v1/api-keys")).json()["items"]
        reader_key = next(item for item in keys if item["name"] == "test read")
        revoked = await client.delete(f"/v1/api-keys/{reader_key['id']}")
        assert revoked.status_code in (200, 204), revoked.text

        refused = await reader.get("/v1/organizations")

    assert refused.status_code == 401


async def test_each_credential_gets_its_own_answer(app, client) -> None:
    ours, theirs, partner = [await create_organization(client) for _ in range(3)]
    mine = await create_agreement(client, [ours, partner])
    await create_agreement(client, [theirs, partner])
    everything = await client.get("/v1/agreements")
    assert len(everything.json()["items"]) == 2
    key = await make_key(app, ["read"], organization_id=uuid.UUID(ours["id"]))

    async with client_for(app, key) as bound:
        _, again, hits = await _twice(app, bound, "/v1/agreements")

    assert hits == 1
    assert [item["id"] for item in again.json()["items"]] == [mine["id"]]
    anonymous = await client_for(app, None).get("/v1/agreements")
    assert anonymous.status_code == 401


async def test_refusals_and_answers_with_cookies_are_not_kept(app, client) -> None:
    missing = f"/v1/agreements/{uuid.uuid4()}"
    _, again, hits = await _twice(app, client, missing)
    assert (again.status_code, hits) == (404, 0)

    async with client_for(app, None) as browser:
        login, again, hits = await _twice(app, browser, "/app/login")
    assert "set-cookie" in login.headers
    assert hits == 0


async def test_a_route_can_opt_out(app, client) -> None:
    check = _check_of(app, list_agreements)

    async def check_every_time(request: Request, session: SessionDep):  # type: ignore[no-untyped-def]
        request.state.response_cache = False
        return await check(request, session)

    app.dependency_overrides[check] = check_every_time
    try:
        first, again, hits = await _twice(app, client, "/v1/agreements")
    finally:
        app.dependency_overrides.clear()

    assert (first.status_code, again.status_code, hits) == (200, 200, 0)


async def test_identical_requests_that_miss_together_run_the_route_once(app, client) -> None:
    await create_agreement(
        client, [await create_organization(client), await create_organization(client)]
    )
    check = _check_of(app, list_agreements)
    runs = []

    async def slow_check(request: Request, session: SessionDep):  # type: ignore[no-untyped-def]
        runs.append(1)
        await asyncio.sleep(0.2)  # the others arrive while this one is being answered
        return await check(request, session)

    app.dependency_overrides[check] = slow_check
    try:
        answers = await asyncio.gather(*(client.get("/v1/agreements") for _ in range(8)))
    finally:
        app.dependency_overrides.clear()

    assert len(runs) == 1
    assert all(_comparable(answer) == _comparable(answers[0]) for answer in answers)
    assert answers[0].status_code == 200


@pytest.mark.parametrize("endpoint", [get_agreement, list_agreements])
async def test_a_header_set_in_the_routes_dependency_shows_on_answers_given_again(
    app, client, endpoint
) -> None:
    first, second = await create_organization(client), await create_organization(client)
    agreement = await create_agreement(client, [first, second])
    check = _check_of(app, endpoint)

    async def check_with_a_header(request: Request, session: SessionDep, response: Response):  # type: ignore[no-untyped-def]
        response.headers["X-Checked-By"] = "the route's dependency"
        return await check(request, session)

    app.dependency_overrides[check] = check_with_a_header
    path = "/v1/agreements" + (f"/{agreement['id']}" if endpoint is get_agreement else "")
    try:
        first_answer, again, hits = await _twice(app, client, path)
    finally:
        app.dependency_overrides.clear()

    assert hits == 1
    assert first_answer.headers["x-checked-by"] == "the route's dependency"
    assert again.headers["x-checked-by"] == "the route's dependency"


async def test_every_committed_write_moves_the_data_version_once(app, client, engine) -> None:
    await create_organization(client)
    version = await _version(app)
    async with engine.begin() as connection:  # hand-written statements, no ORM
        await connection.execute(text("UPDATE organizations SET name = 'Raw, renamed'"))
        await connection.execute(text("UPDATE organizations SET name = 'Raw, again'"))
    one_transaction = await _version(app)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE organizations SET name = 'Rolled back'"))
        await connection.rollback()
    rolled_back = await _version(app)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM organizations WHERE name = 'nobody'"))
    wrote_nothing = await _version(app)

    assert one_transaction > version
    if engine.dialect.name == "postgresql":
        # Once per transaction, however many rows and statements it wrote
        # (SQLite's row triggers add one per row).
        assert one_transaction == version + 1
    assert rolled_back == wrote_nothing == one_transaction


async def test_every_table_but_the_untracked_moves_the_data_version(engine) -> None:
    untracked = {"alembic_version", "data_versions", "rate_limit_counters"}
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            rows = await connection.execute(
                text(
                    "SELECT c.relname, "
                    "count(t.tgname) FILTER (WHERE t.tgname = 'data_version_bump') "
                    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "LEFT JOIN pg_trigger t ON t.tgrelid = c.oid "
                    "WHERE n.nspname = current_schema() AND c.relkind = 'r' GROUP BY c.relname"
                )
            )
            tracked = {name: count == 1 for name, count in rows}
        else:
            tables = await connection.execute(
                text(
                    "SELECT name FROM sqlite_master "
                    "WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
            )
            triggers = {
                name
                for (name,) in await connection.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                )
            }
            tracked = {
                name: all(
                    f"data_version_{name}_{action}" in triggers
                    for action in ("insert", "update", "delete")
                )
                for (name,) in tables
            }

    assert len(tracked) > 30
    assert {name for name, has in tracked.items() if not has} == untracked


async def test_reads_asked_together_share_one_statement_sent_after_them(
    app, client, backend
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite's version is a local read, not shared")
    reader = app.state.data_version_reader
    sent = reader.reads
    together = await asyncio.gather(*(reader.read() for _ in range(20)))
    assert len(set(together)) == 1
    assert reader.reads - sent < 20
    await create_organization(client)

    # Asked after the commit: a later statement, which sees it.
    assert await reader.read() > together[0]


def _entry(version: int, day: dt.date, at: float, body: bytes = b"{}") -> Entry:
    return Entry(
        version=version, day=day, stored_at=at, status=200, headers=(), body=body, route=None
    )


def test_an_entry_holds_for_its_version_its_day_and_its_time_to_live() -> None:
    now = [100.0]
    cache = ResponseCache(max_bytes=1 << 20, ttl_seconds=10, clock=lambda: now[0])
    today, tomorrow = dt.date(2026, 12, 1), dt.date(2026, 12, 2)
    cache.put("key", _entry(7, today, now[0]))

    assert cache.get("key", 7, today) is not None
    assert cache.get("key", 8, today) is None  # and it is dropped
    assert cache.get("key", 7, today) is None
    cache.put("key", _entry(7, today, now[0]))
    assert cache.get("key", 7, tomorrow) is None
    cache.put("key", _entry(7, today, now[0]))
    now[0] += 10.5
    assert cache.get("key", 7, today) is None


def test_the_cache_keeps_to_its_size_dropping_the_least_recently_used() -> None:
    cache = ResponseCache(max_bytes=16 * 1024, ttl_seconds=10, clock=lambda: 0.0)
    day = dt.date(2026, 12, 1)
    assert not cache.put("too big", _entry(1, day, 0.0, b"x" * 2048))  # over a sixteenth
    for index in range(20):
        assert cache.put(index, _entry(1, day, 0.0, b"x" * 700))
        cache.get(0, 1, day)  # the first one stays in use

    assert len(cache) < 20
    assert cache.get(0, 1, day) is not None
    assert cache.get(1, 1, day) is None


def test_an_entry_with_a_shorter_lifetime_is_made_again_sooner() -> None:
    now = [0.0]
    cache = ResponseCache(max_bytes=1 << 20, ttl_seconds=10, clock=lambda: now[0])
    day = dt.date(2026, 12, 1)
    cache.put("short", dataclasses.replace(_entry(1, day, 0.0), lifetime=6.0))
    cache.put("long", _entry(1, day, 0.0))
    now[0] = 7.0

    assert cache.get("short", 1, day) is None
    assert cache.get("long", 1, day) is not None


async def test_entries_made_together_are_spread_over_half_the_ttl_to_all_of_it(app, client) -> None:
    organizations = [await create_organization(client) for _ in range(3)]
    for organization in organizations:
        await client.get(f"/v1/organizations/{organization['id']}")
    cache: ResponseCache = app.state.response_cache

    lifetimes = [entry.lifetime for entry in cache._entries.values()]

    assert len(lifetimes) == 3
    assert all(cache.ttl_seconds / 2 <= lifetime <= cache.ttl_seconds for lifetime in lifetimes)
    assert len(set(lifetimes)) == 3
