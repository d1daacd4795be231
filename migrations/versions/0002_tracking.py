"""Tracking: initiatives, milestones, engagements and research collaborations.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 04:26:32.034357
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "engagements",
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("location", sa.String(length=500), nullable=True),
        sa.Column("host_organization_id", sa.Uuid(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column(
            "outcomes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_engagements_agreement_id_agreements"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["host_organization_id"],
            ["organizations.id"],
            name=op.f("fk_engagements_host_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagements")),
    )
    with op.batch_alter_table("engagements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_engagements_agreement_id"), ["agreement_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_engagements_host_organization_id"),
            ["host_organization_id"],
            unique=False,
        )

    op.create_table(
        "initiatives",
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("objective_ref", sa.String(length=20), nullable=True),
        sa.Column("lead_organization_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("planned_start", sa.Date(), nullable=True),
        sa.Column("planned_end", sa.Date(), nullable=True),
        sa.Column("actual_start", sa.Date(), nullable=True),
        sa.Column("actual_end", sa.Date(), nullable=True),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("paused_from_status", sa.String(length=20), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_initiatives_agreement_id_agreements"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["lead_organization_id"],
            ["organizations.id"],
            name=op.f("fk_initiatives_lead_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_initiatives")),
    )
    with op.batch_alter_table("initiatives", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_initiatives_agreement_id"), ["agreement_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_initiatives_lead_organization_id"),
            ["lead_organization_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_initiatives_status"), ["status"], unique=False)

    op.create_table(
        "research_collaborations",
        sa.Column("agreement_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("research_area", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=True),
        sa.Column("end_on", sa.Date(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_research_collaborations_agreement_id_agreements"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_research_collaborations")),
    )
    with op.batch_alter_table("research_collaborations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_research_collaborations_agreement_id"), ["agreement_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_research_collaborations_status"), ["status"], unique=False
        )

    op.create_table(
        "engagement_participants",
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_engagement_participants_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_engagement_participants_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "engagement_id", "organization_id", name=op.f("pk_engagement_participants")
        ),
    )
    with op.batch_alter_table("engagement_participants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_engagement_participants_organization_id", ["organization_id"], unique=False
        )

    op.create_table(
        "milestones",
        sa.Column("initiative_id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_milestones_agreement_id_agreements"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_milestones_engagement_id_engagements"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiatives.id"],
            name=op.f("fk_milestones_initiative_id_initiatives"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestones")),
    )
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_milestones_agreement_id"), ["agreement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_milestones_due_on"), ["due_on"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_milestones_engagement_id"), ["engagement_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_milestones_initiative_id"), ["initiative_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_milestones_status"), ["status"], unique=False)

    op.create_table(
        "research_outputs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("research_collaboration_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("doi", sa.String(length=300), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["research_collaboration_id"],
            ["research_collaborations.id"],
            name=op.f("fk_research_outputs_research_collaboration_id_research_collaborations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_research_outputs")),
    )
    with op.batch_alter_table("research_outputs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_research_outputs_research_collaboration_id"),
            ["research_collaboration_id"],
            unique=False,
        )

    op.create_table(
        "research_participants",
        sa.Column("research_collaboration_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_research_participants_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["research_collaboration_id"],
            ["research_collaborations.id"],
            name=op.f("fk_research_participants_research_collaboration_id_research_collaborations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "research_collaboration_id", "organization_id", name=op.f("pk_research_participants")
        ),
    )
    with op.batch_alter_table("research_participants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_research_participants_organization_id", ["organization_id"], unique=False
        )

    op.create_table(
        "researchers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("research_collaboration_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("orcid", sa.String(length=19), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_researchers_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["research_collaboration_id"],
            ["research_collaborations.id"],
            name=op.f("fk_researchers_research_collaboration_id_research_collaborations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_researchers")),
    )
    with op.batch_alter_table("researchers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_researchers_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_researchers_research_collaboration_id"),
            ["research_collaboration_id"],
            unique=False,
        )


def downgrade() -> None:

    with op.batch_alter_table("researchers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_researchers_research_collaboration_id"))
        batch_op.drop_index(batch_op.f("ix_researchers_organization_id"))

    op.drop_table("researchers")
    with op.batch_alter_table("research_participants", schema=None) as batch_op:
        batch_op.drop_index("ix_research_participants_organization_id")

    op.drop_table("research_participants")
    with op.batch_alter_table("research_outputs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_research_outputs_research_collaboration_id"))

    op.drop_table("research_outputs")
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_milestones_status"))
        batch_op.drop_index(batch_op.f("ix_milestones_initiative_id"))
        batch_op.drop_index(batch_op.f("ix_milestones_engagement_id"))
        batch_op.drop_index(batch_op.f("ix_milestones_due_on"))
        batch_op.drop_index(batch_op.f("ix_milestones_agreement_id"))

    op.drop_table("milestones")
    with op.batch_alter_table("engagement_participants", schema=None) as batch_op:
        batch_op.drop_index("ix_engagement_participants_organization_id")

    op.drop_table("engagement_participants")
    with op.batch_alter_table("research_collaborations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_research_collaborations_status"))
        batch_op.drop_index(batch_op.f("ix_research_collaborations_agreement_id"))

    op.drop_table("research_collaborations")
    with op.batch_alter_table("initiatives", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_initiatives_status"))
        batch_op.drop_index(batch_op.f("ix_initiatives_lead_organization_id"))
        batch_op.drop_index(batch_op.f("ix_initiatives_agreement_id"))

    op.drop_table("initiatives")
    with op.batch_alter_table("engagements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_engagements_host_organization_id"))
        batch_op.drop_index(batch_op.f("ix_engagements_agreement_id"))

    op.drop_table("engagements")
