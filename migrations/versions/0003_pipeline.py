"""Event pipeline: stored rollups, processed events, dead letters, sweep marks.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-28 04:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "agreement_rollups",
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("health", sa.String(length=20), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("body", JSON, nullable=False),
        sa.PrimaryKeyConstraint("agreement_id", name=op.f("pk_agreement_rollups")),
    )
    with op.batch_alter_table("agreement_rollups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agreement_rollups_health"), ["health"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_agreement_rollups_computed_on"), ["computed_on"], unique=False
        )

    op.create_table(
        "initiative_rollups",
        sa.Column("initiative_id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("health", sa.String(length=20), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", JSON, nullable=False),
        sa.PrimaryKeyConstraint("initiative_id", name=op.f("pk_initiative_rollups")),
    )
    with op.batch_alter_table("initiative_rollups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_initiative_rollups_agreement_id"), ["agreement_id"], unique=False
        )

    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(length=80), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_processed_events")),
    )
    with op.batch_alter_table("processed_events", schema=None) as batch_op:
        batch_op.create_index("ix_processed_events_event_id", ["event_id"], unique=False)

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("actor_name", sa.String(length=120), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("message", JSON, nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dead_letters_event_id"), ["event_id"], unique=False)

    op.create_table(
        "sweep_marks",
        sa.Column("kind", sa.String(length=80), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("mark", sa.String(length=80), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject_id", "mark", name=op.f("pk_sweep_marks")),
    )

    # The relay looks for committed events without a feed position, in id
    # order: a partial index keeps that lookup as small as the backlog.
    op.create_index(
        "ix_outbox_events_unpositioned",
        "outbox_events",
        ["id"],
        unique=False,
        postgresql_where=sa.text("position IS NULL"),
        sqlite_where=sa.text("position IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_events_unpositioned", table_name="outbox_events")
    op.drop_table("sweep_marks")
    op.drop_table("dead_letters")
    op.drop_table("processed_events")
    op.drop_table("initiative_rollups")
    op.drop_table("agreement_rollups")
