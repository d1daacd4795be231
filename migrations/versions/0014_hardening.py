"""The organizations each event concerns, so a bound key's feed keeps what it could see.

Backfill: events of existing agreements and stand-alone research
collaborations get their current parties / participants, organization events
their organization; the events of deleted ones get the organizations their
``deleted`` event lists.

Revision ID: 0014
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0007"
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
        sa.Column(
            "event_id",
            sa.Uuid(),
            sa.ForeignKey("outbox_events.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("organization_id", "event_id"),
    )
    op.create_index("ix_outbox_event_audiences_event_id", "outbox_event_audiences", ["event_id"])
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
    op.drop_index("ix_outbox_event_audiences_event_id", table_name="outbox_event_audiences")
    op.drop_table("outbox_event_audiences")
