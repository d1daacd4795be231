"""The legal record: party acts, amendments and terms versions.

Adds the per-party dates derived from the acts (``agreement_parties``), the
agreement's ``terms_version``, and backfills version 1 of every existing
agreement from its current terms.

Revision ID: 0008
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.ids import uuid7

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _versioned_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("agreements") as batch_op:
        batch_op.add_column(
            sa.Column("terms_version", sa.Integer(), nullable=False, server_default="1")
        )
    with op.batch_alter_table("agreement_parties") as batch_op:
        batch_op.add_column(sa.Column("signed_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("consented_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_on", sa.Date(), nullable=True))

    op.create_table(
        "party_acts",
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("act", sa.String(length=20), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("signed_by_name", sa.String(length=300), nullable=True),
        sa.Column("signed_by_title", sa.String(length=300), nullable=True),
        sa.Column("place", sa.String(length=500), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        *_versioned_columns(),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_party_acts_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_party_acts_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_acts")),
    )
    op.create_index(
        "ix_party_acts_agreement_id_organization_id",
        "party_acts",
        ["agreement_id", "organization_id"],
    )
    op.create_index(op.f("ix_party_acts_organization_id"), "party_acts", ["organization_id"])

    op.create_table(
        "amendments",
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("changes", JSON_DOCUMENT, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("terms_version", sa.Integer(), nullable=True),
        *_versioned_columns(),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_amendments_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amendments")),
    )
    op.create_index(op.f("ix_amendments_agreement_id"), "amendments", ["agreement_id"])
    op.create_index(
        "ix_amendments_status_effective_from", "amendments", ["status", "effective_from"]
    )

    versions = op.create_table(
        "agreement_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("amendment_id", sa.Uuid(), nullable=True),
        sa.Column("terms", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_agreement_versions_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["amendment_id"],
            ["amendments.id"],
            name=op.f("fk_agreement_versions_amendment_id_amendments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_versions")),
        sa.UniqueConstraint("agreement_id", "n", name=op.f("uq_agreement_versions_agreement_id_n")),
    )
    _backfill_first_versions(versions)


def _backfill_first_versions(versions: sa.Table) -> None:
    """Version 1 of every existing agreement: its terms as they stand."""
    bind = op.get_bind()
    agreements = sa.table(
        "agreements",
        sa.column("id", sa.Uuid()),
        sa.column("title", sa.String()),
        sa.column("summary", sa.Text()),
        sa.column("focus_areas", JSON_DOCUMENT),
        sa.column("objectives", JSON_DOCUMENT),
        sa.column("effective_from", sa.Date()),
        sa.column("expires_on", sa.Date()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    parties = sa.table(
        "agreement_parties",
        sa.column("agreement_id", sa.Uuid()),
        sa.column("organization_id", sa.Uuid()),
        sa.column("role", sa.String()),
        sa.column("position", sa.Integer()),
    )
    by_agreement: dict[uuid.UUID, list[dict[str, str]]] = {}
    for party in bind.execute(
        sa.select(parties).order_by(parties.c.agreement_id, parties.c.position)
    ):
        by_agreement.setdefault(party.agreement_id, []).append(
            {"organization_id": str(party.organization_id), "role": party.role}
        )
    rows = []
    for agreement in bind.execute(sa.select(agreements)):
        rows.append(
            {
                "id": uuid7(),
                "agreement_id": agreement.id,
                "n": 1,
                "effective_from": agreement.effective_from,
                "amendment_id": None,
                "terms": {
                    "title": agreement.title,
                    "summary": agreement.summary,
                    "focus_areas": _loaded(agreement.focus_areas),
                    "objectives": _loaded(agreement.objectives),
                    "parties": by_agreement.get(agreement.id, []),
                    "effective_from": _iso(agreement.effective_from),
                    "expires_on": _iso(agreement.expires_on),
                },
                "created_at": agreement.created_at,
            }
        )
    if rows:
        op.bulk_insert(versions, rows)


def _loaded(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


def _iso(value: object) -> str | None:
    return None if value is None else value.isoformat()  # type: ignore[attr-defined]


def downgrade() -> None:
    op.drop_table("agreement_versions")
    op.drop_index("ix_amendments_status_effective_from", table_name="amendments")
    op.drop_index(op.f("ix_amendments_agreement_id"), table_name="amendments")
    op.drop_table("amendments")
    op.drop_index(op.f("ix_party_acts_organization_id"), table_name="party_acts")
    op.drop_index("ix_party_acts_agreement_id_organization_id", table_name="party_acts")
    op.drop_table("party_acts")
    with op.batch_alter_table("agreement_parties") as batch_op:
        batch_op.drop_column("withdrawn_on")
        batch_op.drop_column("consented_on")
        batch_op.drop_column("signed_on")
    with op.batch_alter_table("agreements") as batch_op:
        batch_op.drop_column("terms_version")
