"""Rendered JSON: an agreement's public JSON kept with its row (shared.rendered).

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


def upgrade() -> None:
    with op.batch_alter_table("agreements") as batch:
        batch.add_column(sa.Column("rendered", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agreements") as batch:
        batch.drop_column("rendered")
