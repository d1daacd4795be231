"""The data version: a counter every committed write moves (shared.data_version).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01

``data_versions`` holds a few counters; their sum is the data version. A
trigger on every table but the rate limiter's counters adds one when a
transaction that wrote to that table commits, in that transaction. So two
reads that see the same version see the same committed data, and a reader
sees a new version exactly when it can see the write that made it. The
response cache (services.api.response_cache) keys its answers by it.

PostgreSQL: a deferred constraint trigger, fired at commit; it bumps one
counter per transaction (the slot is the transaction id modulo the slot
count), so concurrent writers rarely meet on one row, and only while they
commit. SQLite has one writer at a time: one counter, row triggers.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLOTS = 32
# Writes here change no answer (the limiter's headers are added outside the cache).
UNTRACKED = frozenset({"alembic_version", "data_versions", "rate_limit_counters"})

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION accords_bump_data_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    xid text := pg_current_xact_id()::text;
BEGIN
    IF current_setting('accords.data_version_bumped', true) IS DISTINCT FROM xid THEN
        PERFORM set_config('accords.data_version_bumped', xid, true);
        INSERT INTO data_versions (slot, n)
        VALUES ((xid::bigint % {SLOTS})::int, 1)
        ON CONFLICT (slot) DO UPDATE SET n = data_versions.n + 1;
    END IF;
    RETURN NULL;
END
$$
"""


def tracked_tables() -> list[str]:
    inspector = sa.inspect(op.get_bind())
    return sorted(name for name in inspector.get_table_names() if name not in UNTRACKED)


def track(table: str) -> None:
    """Make commits that write ``table`` move the data version (for later migrations too)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE CONSTRAINT TRIGGER data_version_bump AFTER INSERT OR UPDATE OR DELETE "
            f"ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            f"EXECUTE FUNCTION accords_bump_data_version()"
        )
        return
    for action in ("INSERT", "UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER data_version_{table}_{action.lower()} AFTER {action} ON {table} "
            f"BEGIN UPDATE data_versions SET n = n + 1 WHERE slot = 0; END"
        )


def upgrade() -> None:
    tables = tracked_tables()
    op.create_table(
        "data_versions",
        sa.Column("slot", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    slots = SLOTS if op.get_bind().dialect.name == "postgresql" else 1
    op.bulk_insert(
        sa.table("data_versions", sa.column("slot"), sa.column("n")),
        [{"slot": slot, "n": 0} for slot in range(slots)],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
    for table in tables:
        track(table)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in tracked_tables():
        if postgresql:
            op.execute(f"DROP TRIGGER IF EXISTS data_version_bump ON {table}")
        else:
            for action in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS data_version_{table}_{action}")
    op.drop_table("data_versions")
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS accords_bump_data_version()")
