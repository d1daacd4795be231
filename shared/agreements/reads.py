"""Agreement reads: the one public read shape, by id and as a list.

Reads answer the stored JSON of shared.rendered when the row has it. On the
spot, an agreement is read as ORM objects (SQLite, and every write), as one
Core statement through the session (the PostgreSQL list), or as the same
statement compiled once for a bare asyncpg connection (the PostgreSQL read by
id). The columns, the parties' aggregation and the JSON decoding are written
once here for all of them.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, exists, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from shared.agreements.schemas import AgreementPublic
from shared.agreements.visibility import visible_to
from shared.db import driver_connection
from shared.errors import NotFound
from shared.models import Agreement, AgreementParty, AgreementStatusChange, Organization
from shared.rendered import all_stored
from shared.rows import page_after, rows_after, text_in


def as_public(agreement: Agreement) -> dict[str, Any]:
    """The agreement as the API (and every event about it) shows it."""
    return AgreementPublic.model_validate(agreement).model_dump(mode="json", by_alias=True)


async def get_agreement(
    session: AsyncSession,
    agreement_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None = None,
    for_update: bool = False,
) -> Agreement:
    """The agreement with its parties; 404 also when the caller may not see it."""
    # One statement (joined loading): a consistent read even without a transaction.
    query = (
        select(Agreement).options(joinedload(Agreement.parties)).where(Agreement.id == agreement_id)
    )
    condition = visible_to(organization_id)
    if condition is not None:
        query = query.where(condition)
    if for_update:
        query = query.with_for_update(of=Agreement)
    agreement = (await session.scalars(query)).unique().one_or_none()
    if agreement is None:
        raise NotFound(f"Agreement {agreement_id} does not exist.")
    return agreement


async def ensure_visible(
    session: AsyncSession, agreement_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> None:
    """404 unless the agreement exists and the caller may see it (one indexed read;
    for reads of what belongs to it)."""
    query = select(Agreement.id).where(Agreement.id == agreement_id)
    condition = visible_to(organization_id)
    if condition is not None:
        query = query.where(condition)
    if await session.scalar(query) is None:
        raise NotFound(f"Agreement {agreement_id} does not exist.")


# --- The public read shape (PostgreSQL) -------------------------------------

# What each party entry of AgreementPublic holds, as columns of agreement_parties.
PARTY_COLUMNS = {
    "organization_id": AgreementParty.organization_id,
    "role": AgreementParty.role,
    "signed_on": AgreementParty.signed_on,
    "consented_on": AgreementParty.consented_on,
    "withdrawn_on": AgreementParty.withdrawn_on,
}

# Every column of AgreementPublic, the parties aggregated in their order.
PUBLIC_COLUMNS = (
    Agreement.id,
    Agreement.reference,
    Agreement.title,
    Agreement.instrument_type,
    Agreement.legal_character,
    Agreement.summary,
    Agreement.focus_areas,
    Agreement.objectives,
    Agreement.signed_on,
    Agreement.signed_at,
    Agreement.effective_from,
    Agreement.expires_on,
    Agreement.reporting,
    Agreement.status,
    Agreement.terms_version,
    Agreement.version,
    Agreement.created_at,
    Agreement.updated_at,
    func.coalesce(
        select(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_object(
                        # Keys as SQL literals: no bound parameters in the compiled read.
                        *(
                            part
                            for name, column in PARTY_COLUMNS.items()
                            for part in (literal_column(f"'{name}'"), column)
                        )
                    ),
                    AgreementParty.position,
                )
            )
        )
        .where(AgreementParty.agreement_id == Agreement.id)
        .scalar_subquery(),
        literal_column("'[]'::json"),
    ).label("parties"),
)

_JSON_FIELDS = ("focus_areas", "objectives", "parties", "reporting")


def public_from_row(row: Any) -> AgreementPublic:
    """An AgreementPublic from a row of :data:`PUBLIC_COLUMNS` (a mapping).

    json/jsonb may come back as text, depending on the connection's codecs
    (a bare asyncpg connection has none).
    """
    values = dict(row)
    for field in _JSON_FIELDS:
        if isinstance(values[field], str):
            values[field] = json.loads(values[field])
    return AgreementPublic.model_validate(values)


# The read by id, compiled once per shape for a bare asyncpg connection: with
# and without the organization scope (an org-bound key's read).
_BY_ID: dict[bool, tuple[str, list[str]]] = {}


def _by_id_statement(scoped: bool) -> tuple[str, list[str]]:
    compiled = _BY_ID.get(scoped)
    if compiled is None:
        query = select(*PUBLIC_COLUMNS).where(Agreement.id == bindparam("agreement_id"))
        if scoped:
            query = query.where(
                exists().where(
                    AgreementParty.agreement_id == Agreement.id,
                    AgreementParty.organization_id == bindparam("organization_id"),
                )
            )
        statement = query.compile(dialect=asyncpg_dialect.dialect())
        compiled = _BY_ID[scoped] = (str(statement), list(statement.positiontup or ()))
    return compiled


async def fetch_public_agreement(
    connection: Any, agreement_id: uuid.UUID, organization_id: uuid.UUID | None
) -> AgreementPublic | None:
    """The agreement as the API shows it, on an asyncpg connection (PostgreSQL)."""
    sql, names = _by_id_statement(organization_id is not None)
    values = {"agreement_id": agreement_id, "organization_id": organization_id}
    record = await connection.fetchrow(sql, *(values[name] for name in names))
    return None if record is None else public_from_row(record)


async def read_public_agreement(
    session: AsyncSession, agreement_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> AgreementPublic:
    """The agreement as the API shows it; 404 also when the caller may not see it."""
    if session.bind.dialect.name != "postgresql":
        agreement = await get_agreement(session, agreement_id, organization_id=organization_id)
        return AgreementPublic.model_validate(agreement)
    async with driver_connection(session) as connection:
        agreement = await fetch_public_agreement(connection, agreement_id, organization_id)
    if agreement is None:
        raise NotFound(f"Agreement {agreement_id} does not exist.")
    return agreement


# --- Rendered reads (shared.rendered) -----------------------------------------


async def read_rendered_agreement(
    session: AsyncSession, agreement_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> Any | None:
    """The agreement's stored JSON and version (``.rendered``, ``.version``).

    None when it has no stored JSON yet (render it on the spot); 404 also when
    the caller may not see it.
    """
    query = select(Agreement.rendered, Agreement.version).where(Agreement.id == agreement_id)
    condition = visible_to(organization_id)
    if condition is not None:
        query = query.where(condition)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFound(f"Agreement {agreement_id} does not exist.")
    return row if row.rendered is not None else None


async def list_rendered_agreements(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int, **filters: Any
) -> list[Any] | None:
    """:func:`list_agreements` as stored JSON (rows of ``.id``, ``.rendered``).

    None when one of them has no stored JSON yet (list them on the spot).
    """
    query = list_query(
        dialect=session.bind.dialect.name,
        query=select(Agreement.id, Agreement.rendered),
        **filters,
    )
    query = page_after(query, Agreement.id, after=after, limit=limit)
    return all_stored(list((await session.execute(query)).all()))


# --- The list ---------------------------------------------------------------


def list_query(
    *,
    organization_scope: uuid.UUID | None,
    status: str | None = None,
    organization_id: uuid.UUID | None = None,
    country: str | None = None,
    instrument_type: str | None = None,
    focus_area: str | None = None,
    q: str | None = None,
    expires_before: dt.date | None = None,
    dialect: str = "postgresql",
    query: Select[Any] | None = None,
) -> Select[Any]:
    """The agreements list with its filters: ORM entities with their parties,
    or ``query`` (any select from ``agreements``) with the same filters."""
    if query is None:
        query = select(Agreement).options(selectinload(Agreement.parties))
    scope_condition = visible_to(organization_scope)
    if scope_condition is not None:
        query = query.where(scope_condition)
    if status:
        query = query.where(Agreement.status == status)
    if organization_id:
        query = query.where(
            exists().where(
                AgreementParty.agreement_id == Agreement.id,
                AgreementParty.organization_id == organization_id,
            )
        )
    if country:
        query = query.where(
            exists().where(
                AgreementParty.agreement_id == Agreement.id,
                AgreementParty.organization_id == Organization.id,
                Organization.country == country.upper(),
            )
        )
    if instrument_type:
        query = query.where(Agreement.instrument_type == instrument_type)
    if focus_area:
        query = query.where(_has_focus_area(focus_area, dialect))
    if q:
        query = query.where(text_in(q, Agreement.reference, Agreement.title, Agreement.summary))
    if expires_before:
        query = query.where(Agreement.expires_on < expires_before)
    return query


def _has_focus_area(focus_area: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return Agreement.focus_areas.op("@>")(func.jsonb_build_array(focus_area))
    each = func.json_each(Agreement.focus_areas).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == focus_area))


async def list_agreements(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int, **filters: Any
) -> list[Agreement] | list[AgreementPublic]:
    """Up to ``limit + 1`` agreements after ``after``, in creation order.

    On PostgreSQL they come as the API shows them, from one statement without
    loading ORM objects (most of a page's cost otherwise); elsewhere as ORM
    objects with their parties.
    """
    dialect = session.bind.dialect.name
    columns = select(*PUBLIC_COLUMNS) if dialect == "postgresql" else None
    query = list_query(dialect=dialect, query=columns, **filters)
    query = page_after(query, Agreement.id, after=after, limit=limit)
    if columns is None:
        return list((await session.scalars(query)).all())
    rows = (await session.execute(query)).mappings().all()
    return [public_from_row(row) for row in rows]


async def list_rendered_history(
    session: AsyncSession, *, agreement_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[Any] | None:
    """:func:`list_history` as stored JSON (rows of ``.id``, ``.rendered``);
    None when one has none yet (list them on the spot)."""
    query = select(AgreementStatusChange.id, AgreementStatusChange.rendered).where(
        AgreementStatusChange.agreement_id == agreement_id
    )
    query = page_after(query, AgreementStatusChange.id, after=after, limit=limit)
    return all_stored(list((await session.execute(query)).all()))


async def list_history(
    session: AsyncSession, *, agreement_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[AgreementStatusChange]:
    """The agreement's lifecycle moves, oldest first."""
    query = select(AgreementStatusChange).where(AgreementStatusChange.agreement_id == agreement_id)
    return await rows_after(session, query, AgreementStatusChange.id, after=after, limit=limit)
