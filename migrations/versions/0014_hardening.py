"""Hardening: the organizations each event concerns; when a consumer settled an event.

``outbox_event_audiences`` lets a bound key's feed keep what it could see.
``outbox_events.settled_at`` lets the relay hand Redis again what it lost.

Backfill: events of existing agreements and stand-alone research
collaborations get their current parties / participants, organization events
their organization; the events of deleted ones get the organizations their
``deleted`` event lists.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = (
    """
    INSERT INTO outbox_event_audiences (organization_id, event_id)
    SELECT DISTINCT p.organization_id, e.id FROM outbox_events e
    JOIN agreement_parties p ON p.agreement_id = e.aggregate_id
    WHERE e.aggregate_type = 'agreement'
    """,
    """
    INSERT INTO outbox_event_audiences (organization_id, event_id)
    SELECT DISTINCT p.organization_id, e.id FROM outbox_events e
    JOIN research_participants p ON p.research_collaboration_id = e.aggregate_id
    WHERE e.aggregate_type = 'research_collaboration'
    """,
    """
    INSERT INTO outbox_event_audiences (organization_id, event_id)
    SELECT e.aggregate_id, e.id FROM outbox_events e
    WHERE e.aggregate_type = 'organization'
    """,
)
DELETIONS = {
    "agreement.deleted": ("agreement", "parties"),
    "research_collaboration.deleted": ("research_collaboration", "participants"),
}


def upgrade() -> None:
    op.create_table(
        "outbox_event_audiences",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["outbox_events.id"],
            name=op.f("fk_outbox_event_audiences_event_id_outbox_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "event_id", name=op.f("pk_outbox_event_audiences")
        ),
    )
    op.create_index("ix_outbox_event_audiences_event_id", "outbox_event_audiences", ["event_id"])
    # Redis may lose accepted messages: consumers stamp what they are done with.
    # Existing events count as settled (the pipeline had them).
    with op.batch_alter_table("outbox_events") as batch:
        batch.add_column(sa.Column("settled_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE outbox_events SET settled_at = dispatched_at")
    bind = op.get_bind()
    for statement in BACKFILL:
        bind.execute(sa.text(statement))
    _backfill_deleted(bind)


def _backfill_deleted(bind: sa.Connection) -> None:
    """Every event of a deleted aggregate goes to the organizations its deletion lists."""
    events = sa.table(
        "outbox_events",
        sa.column("id", sa.Uuid()),
        sa.column("type", sa.String()),
        sa.column("aggregate_type", sa.String()),
        sa.column("aggregate_id", sa.Uuid()),
        sa.column("data", sa.Text()),
    )
    audiences = sa.table(
        "outbox_event_audiences",
        sa.column("organization_id", sa.Uuid()),
        sa.column("event_id", sa.Uuid()),
    )
    deleted = bind.execute(
        sa.select(
            events.c.type, events.c.aggregate_type, events.c.aggregate_id, events.c.data
        ).where(events.c.type.in_(list(DELETIONS)))
    ).all()
    for event_type, aggregate_type, aggregate_id, data in deleted:
        kind, members_key = DELETIONS[event_type]
        if kind != aggregate_type:
            continue  # a collaboration under an agreement: on the agreement's stream
        document = json.loads(data) if isinstance(data, str) else data
        organizations = set()
        for member in (document or {}).get(members_key) or []:
            try:
                organizations.add(uuid.UUID(str(member.get("organization_id"))))
            except (AttributeError, ValueError):
                continue
        if not organizations:
            continue
        ids = bind.execute(
            sa.select(events.c.id).where(
                events.c.aggregate_type == aggregate_type, events.c.aggregate_id == aggregate_id
            )
        ).scalars()
        rows = [
            {"organization_id": organization, "event_id": event_id}
            for event_id in ids
            for organization in organizations
        ]
        if rows:
            bind.execute(audiences.insert(), rows)


def downgrade() -> None:
    with op.batch_alter_table("outbox_events") as batch:
        batch.drop_column("settled_at")
    op.drop_index("ix_outbox_event_audiences_event_id", table_name="outbox_event_audiences")
    op.drop_table("outbox_event_audiences")
