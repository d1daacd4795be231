"""List endpoints issue the same number of SQL statements whatever the page size.

Each resource gets several rows, each with children (parties, participants,
researchers, outputs), so a per-row query would show as a difference between
a page of one and a page of all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.api.tracking_factories import (
    create_engagement,
    create_initiative,
    create_milestone,
    create_research,
)
from tests.factories import create_agreement

ROWS = 4
LISTS = [
    "/v1/organizations",
    "/v1/agreements",
    "/v1/initiatives",
    "/v1/milestones",
    "/v1/engagements",
    "/v1/research-collaborations",
]


@contextmanager
def counting_statements(app) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    statements: list[str] = []
    engine = app.state.engine.sync_engine

    def count(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
async def populated(client) -> None:
    for _ in range(ROWS):
        agreement = await create_agreement(client)
        parties = [party["organization_id"] for party in agreement["parties"]]
        initiative = await create_initiative(client, agreement)
        engagement = await create_engagement(client, agreement)
        await create_milestone(client, initiative["id"], engagement_id=engagement["id"])
        await create_research(
            client,
            parties,
            agreement_id=agreement["id"],
            researchers=[
                {"name": "A. Researcher", "organization_id": parties[0], "role": "lead author"},
                {"name": "B. Researcher", "organization_id": parties[1], "role": "analyst"},
            ],
            outputs=[{"kind": "report", "title": "Baseline"}, {"kind": "dataset", "title": "D"}],
        )


@pytest.mark.parametrize("path", LISTS)
async def test_list_issues_a_constant_number_of_queries(app, client, populated, path) -> None:
    counts = {}
    sizes = {}
    for limit in (1, 50):
        with counting_statements(app) as statements:
            response = await client.get(path, params={"limit": limit})
        assert response.status_code == 200, response.text
        counts[limit] = len(statements)
        sizes[limit] = len(response.json()["items"])

    assert sizes == {1: 1, 50: ROWS if "organizations" not in path else 2 * ROWS}
    assert counts[1] == counts[50], f"{path}: {counts}"
