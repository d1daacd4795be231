"""Revision 0014 backfills who each existing event concerns, and what was already settled."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic import command

from shared.db import JSONDocument, UTCDateTime, create_engine
from shared.migrate import upgrade_async
from shared.settings import Settings
from tests.test_migrations import _run, empty_database  # noqa: F401 - fixture

EVENTS = sa.table(
    "outbox_events",
    sa.column("id", sa.Uuid()),
    sa.column("type", sa.String()),
    sa.column("aggregate_type", sa.String()),
    sa.column("aggregate_id", sa.Uuid()),
    sa.column("sequence", sa.Integer()),
    sa.column("occurred_at", UTCDateTime()),
    sa.column("data", JSONDocument),
    sa.column("dispatched_at", UTCDateTime()),
)


async def test_events_of_a_deleted_agreement_go_to_the_parties_its_deletion_lists(
    empty_database,  # noqa: F811
) -> None:
    await _run(empty_database, lambda config: command.upgrade(config, "0012"))
    alpha, beta, org = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    agreement = uuid.uuid4()
    now = dt.datetime.now(dt.UTC)
    parties = [{"organization_id": str(alpha)}, {"organization_id": str(beta)}]
    rows = [
        ("agreement.created", "agreement", agreement, 1, {"id": str(agreement)}),
        (
            "agreement.deleted",
            "agreement",
            agreement,
            2,
            {"id": str(agreement), "parties": parties},
        ),
        ("organization.created", "organization", org, 1, {"id": str(org)}),
    ]
    ids = [uuid.uuid4() for _ in rows]
    engine = create_engine(Settings(database_url=empty_database))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                EVENTS.insert(),
                [
                    {
                        "id": event_id,
                        "type": kind,
                        "aggregate_type": aggregate_type,
                        "aggregate_id": aggregate_id,
                        "sequence": sequence,
                        "occurred_at": now,
                        "data": data,
                        "dispatched_at": now,
                    }
                    for event_id, (kind, aggregate_type, aggregate_id, sequence, data) in zip(
                        ids, rows, strict=True
                    )
                ],
            )
        await upgrade_async(empty_database)
        async with engine.connect() as connection:
            audience = {
                (row.event_id, row.organization_id)
                for row in await connection.execute(
                    sa.text("SELECT event_id, organization_id FROM outbox_event_audiences")
                )
            }
            unsettled = await connection.scalar(
                sa.text("SELECT count(*) FROM outbox_events WHERE settled_at IS NULL")
            )
    finally:
        await engine.dispose()

    normalized = {(uuid.UUID(str(event)), uuid.UUID(str(o))) for event, o in audience}
    assert normalized == {
        (ids[0], alpha),
        (ids[0], beta),
        (ids[1], alpha),
        (ids[1], beta),
        (ids[2], org),
    }
    assert unsettled == 0
