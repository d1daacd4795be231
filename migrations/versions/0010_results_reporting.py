"""Results and reporting: indicators, measurements, reports, agreements' reporting schedule.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _versioned() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reporting", JSON, nullable=True))
    with op.batch_alter_table("agreement_rollups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("achievement", sa.Float(), nullable=True))

    op.create_table(
        "indicators",
        sa.Column("initiative_id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("unit", sa.String(length=200), nullable=True),
        sa.Column("baseline", JSON, nullable=False),
        sa.Column("target", JSON, nullable=False),
        sa.Column("objective_ref", sa.String(length=20), nullable=True),
        *_versioned(),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_indicators_agreement_id_agreements"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiatives.id"],
            name=op.f("fk_indicators_initiative_id_initiatives"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicators")),
    )
    op.create_index(op.f("ix_indicators_agreement_id"), "indicators", ["agreement_id"])
    op.create_index(op.f("ix_indicators_initiative_id"), "indicators", ["initiative_id"])

    op.create_table(
        "reports",
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("reporter_organization_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("narrative", sa.Text(), nullable=True),
        sa.Column("challenges", sa.Text(), nullable=True),
        sa.Column("next_steps", sa.Text(), nullable=True),
        sa.Column("measurements", JSON, nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_comment", sa.Text(), nullable=True),
        sa.Column("due_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_notified_at", sa.DateTime(timezone=True), nullable=True),
        *_versioned(),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_reports_agreement_id_agreements"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_organization_id"],
            ["organizations.id"],
            name=op.f("fk_reports_reporter_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint(
            "agreement_id", "period_start", name=op.f("uq_reports_agreement_id_period_start")
        ),
    )
    op.create_index(op.f("ix_reports_due_on"), "reports", ["due_on"])
    op.create_index(op.f("ix_reports_status"), "reports", ["status"])
    op.create_index(
        op.f("ix_reports_reporter_organization_id"), "reports", ["reporter_organization_id"]
    )

    op.create_table(
        "indicator_measurements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("indicator_id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("report_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name=op.f("fk_indicator_measurements_indicator_id_indicators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_indicator_measurements_report_id_reports"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_measurements")),
    )
    op.create_index(
        op.f("ix_indicator_measurements_agreement_id"), "indicator_measurements", ["agreement_id"]
    )
    op.create_index(
        op.f("ix_indicator_measurements_report_id"), "indicator_measurements", ["report_id"]
    )
    op.create_index(
        "ix_indicator_measurements_indicator_id_on",
        "indicator_measurements",
        ["indicator_id", "on", "id"],
    )


def downgrade() -> None:
    op.drop_table("indicator_measurements")
    op.drop_table("reports")
    op.drop_table("indicators")
    with op.batch_alter_table("agreement_rollups", schema=None) as batch_op:
        batch_op.drop_column("achievement")
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_column("reporting")
