"""Rollups written as rows: each with its body in jsonb's key order and its rendered JSON.

A recompute rewrites every rollup of its agreements. Written through ORM
objects, it loaded them, flushed them and loaded them again to render them:
several times the statements. Here the rows carry their rendered JSON (see
:mod:`shared.rendered`), made by the same public model as the route's answer,
and on PostgreSQL all of a recompute's writes are one statement.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import bindparam, delete, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import dialect_name, insert_of
from shared.models import AgreementRollup, InitiativeRollup
from shared.rendered import in_jsonb_order, rollup_json
from shared.statements import run_many, run_statement

_IDS = bindparam("ids", expanding=True)


def stored_body(body: dict[str, Any]) -> dict[str, Any]:
    """A rollup body as stored (and served): JSON-compatible values, its keys in
    the order the database gives them back (:func:`shared.rendered.in_jsonb_order`)."""
    return in_jsonb_order(to_jsonable_python(body))


def body_columns(public: Any, body: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """A rollup row's body columns: the body, when it was computed, its rendered JSON."""
    return {"computed_at": now, "body": body, "rendered": rollup_json(public, body, now)}


_DROP_AGREEMENT_ROLLUPS = delete(AgreementRollup).where(AgreementRollup.agreement_id.in_(_IDS))
_DROP_INITIATIVE_ROLLUPS = delete(InitiativeRollup).where(InitiativeRollup.agreement_id.in_(_IDS))


async def drop_rollups(session: AsyncSession, agreement_ids: list[uuid.UUID]) -> None:
    """Drop the rollups of these agreements (they are gone)."""
    await run_statement(session, _DROP_INITIATIVE_ROLLUPS, {"ids": agreement_ids})
    await run_statement(session, _DROP_AGREEMENT_ROLLUPS, {"ids": agreement_ids})


# The initiative rollups of these agreements whose initiative is gone.
_DROP_STALE_INITIATIVE_ROLLUPS = delete(InitiativeRollup).where(
    InitiativeRollup.agreement_id.in_(_IDS),
    InitiativeRollup.initiative_id.not_in(bindparam("keep", expanding=True)),
)


async def write_rollups(
    session: AsyncSession,
    agreement_ids: list[uuid.UUID],
    agreement_rows: list[dict[str, Any]],
    initiative_rows: list[dict[str, Any]],
) -> None:
    """Store the rollups of these agreements (rows of :func:`body_columns` and
    the rest), and drop those of their initiatives that are gone. An initiative
    rollup whose body is unchanged is left alone (its ``computed_at`` too)."""
    keep = [row["initiative_id"] for row in initiative_rows]
    stale = {"ids": agreement_ids, "keep": keep}
    if dialect_name(session) != "postgresql":
        await run_many(session, _upsert("sqlite", _AGREEMENT_ROLLUPS), agreement_rows)
        await run_many(session, _upsert("sqlite", _INITIATIVE_ROLLUPS), initiative_rows)
        await run_statement(session, _DROP_STALE_INITIATIVE_ROLLUPS, stale)
        return
    params = dict(stale)
    for prefix, rows in (("a", agreement_rows), ("i", initiative_rows)):
        for number, row in enumerate(rows):
            params.update((f"{prefix}{number}_{key}", value) for key, value in row.items())
    statement = _rollups_together(len(agreement_rows), len(initiative_rows))
    await run_statement(session, statement, params)


_AGREEMENT_ROLLUPS = AgreementRollup.__table__
_INITIATIVE_ROLLUPS = InitiativeRollup.__table__
# Each table's key, and whether an unchanged body is left alone.
_UPSERT_OF = {
    _AGREEMENT_ROLLUPS: ("agreement_id", False),
    _INITIATIVE_ROLLUPS: ("initiative_id", True),
}


@functools.cache
def _upsert(dialect: str, table: Any, rows: int | None = None, prefix: str = "") -> Any:
    """The upsert of rollup rows: one row of parameters named after the columns,
    or (``rows``) that many, each column's named ``{prefix}{row number}_{column}``."""
    key, when_changed = _UPSERT_OF[table]
    columns = [column.key for column in table.columns]

    def row(name: Any) -> dict[str, Any]:
        return {column: bindparam(name(column), type_=table.c[column].type) for column in columns}

    statement = insert_of(dialect)(table)
    if rows is None:
        statement = statement.values(row(lambda column: column))
    else:
        statement = statement.values(
            [row(lambda column, n=n: f"{prefix}{n}_{column}") for n in range(rows)]
        )
    return statement.on_conflict_do_update(
        index_elements=[key],
        set_={column: statement.excluded[column] for column in columns if column != key},
        where=(table.c.body != statement.excluded.body) if when_changed else None,
    )


@functools.lru_cache(maxsize=256)
def _rollups_together(agreements: int, initiatives: int) -> Any:
    """PostgreSQL: the writes of :func:`write_rollups` as data-modifying CTEs of
    one statement, built once per count of rows."""
    ctes = [
        _upsert("postgresql", _AGREEMENT_ROLLUPS, agreements, "a").cte("agreement_rollups_stored"),
        _DROP_STALE_INITIATIVE_ROLLUPS.cte("initiative_rollups_dropped"),
    ]
    if initiatives:
        upsert = _upsert("postgresql", _INITIATIVE_ROLLUPS, initiatives, "i")
        ctes.append(upsert.cte("initiative_rollups_stored"))
    return select(literal_column("1")).add_cte(*ctes)
