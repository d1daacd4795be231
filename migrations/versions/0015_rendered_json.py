"""Rendered JSON: the public JSON of agreements, initiatives and rollups, kept with their rows (shared.rendered).

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-01

Null until the row is next written; reads render such rows on the spot.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES = ("agreements", "initiatives", "agreement_rollups", "initiative_rollups")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("rendered", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("rendered")
