"""Announce every change to api_keys on the ``accords_api_keys`` channel (PostgreSQL).

API processes cache the keys they have looked up and forget them all on
each notification (services.api.api_keys.cache). A statement-level trigger
notifies whoever changes the table (API, CLI, an organization's cascade,
psql), and PostgreSQL delivers the notification only once the change commits.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # one process on SQLite: nothing is cached
    op.execute(
        """
        CREATE FUNCTION api_keys_notify_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('accords_api_keys', TG_OP);
            RETURN NULL;
        END;
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER api_keys_changed
        AFTER UPDATE OR DELETE OR TRUNCATE ON api_keys
        FOR EACH STATEMENT EXECUTE FUNCTION api_keys_notify_change()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS api_keys_changed ON api_keys")
    op.execute("DROP FUNCTION IF EXISTS api_keys_notify_change()")
