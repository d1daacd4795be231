"""Statements run as compiled on the driver connection of a session's transaction.

SQLAlchemy's execution around a short statement costs several times the
statement's own round trip; a statement built once (a module constant, or one
cached per shape) runs here straight on the driver, with SQLAlchemy's own bind
and result processing. Also: rows of several tables inserted in one statement.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Table, bindparam, insert, literal_column, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.util import await_only

from shared.db import begun, dialect_name, driver_connection

Rows = tuple[Table, Sequence[Mapping[str, Any]]]
# What a statement of :func:`values_ctes` is built for: each table, its rows' keys, how many.
Shape = tuple[tuple[Table, tuple[str, ...], int], ...]


async def insert_together(session: AsyncSession, writes: Sequence[Rows]) -> None:
    """INSERT the rows of several tables at once, each table's rows with the same keys.

    On PostgreSQL this is one statement, one round trip: each table's INSERT
    a data-modifying CTE of it (built once per shape: tables, keys, row
    counts). Its rows may refer to each other (foreign keys are checked at
    the end of the statement). Elsewhere each table's rows are one
    executemany, in the order given, so a referred-to row goes first.
    """
    writes = [(table, rows) for table, rows in writes if rows]
    if dialect_name(session) != "postgresql":
        for table, rows in writes:
            await session.execute(insert(table), list(rows))
        return
    statement = _insert_together_statement(shape_of(writes))
    await run_statement(session, statement, together_params(writes))


@functools.lru_cache(maxsize=256)
def _insert_together_statement(shape: Shape) -> Any:
    return select(literal_column("1")).add_cte(*values_ctes(shape))


def shape_of(writes: Sequence[Rows]) -> Shape:
    """What :func:`values_ctes` builds its statement for: each table, its rows'
    keys and how many rows (the rows of ``writes`` are not empty)."""
    return tuple((table, tuple(rows[0]), len(rows)) for table, rows in writes)


def together_params(writes: Sequence[Rows], prefix: str = "w") -> dict[str, Any]:
    """The parameters of :func:`values_ctes`'s statement for ``writes``."""
    return {
        f"{prefix}{n}_{i}_{key}": value
        for n, (_table, rows) in enumerate(writes)
        for i, row in enumerate(rows)
        for key, value in row.items()
    }


@functools.lru_cache(maxsize=256)
def values_ctes(shape: Shape, prefix: str = "w") -> tuple[Any, ...]:
    """PostgreSQL: one data-modifying CTE per table of ``shape`` (of
    :func:`shape_of`), INSERTing its rows' values; built once per shape. Its
    parameters (and CTEs) are named after ``prefix``, so that two sets of
    them can be in one statement."""
    return tuple(
        postgresql.insert(table)
        .values(
            [
                {key: bindparam(f"{prefix}{n}_{i}_{key}", type_=table.c[key].type) for key in keys}
                for i in range(count)
            ]
        )
        .cte(f"{prefix}{n}")
        for n, (table, keys, count) in enumerate(shape)
    )


async def run_statement(
    session: AsyncSession, statement: Any, params: Mapping[str, Any]
) -> Sequence[Any]:
    """Run a statement that is built once (a module constant, or one cached per
    shape) in the session's transaction; its rows (tuples whose fields are
    also named by the statement's columns).

    On PostgreSQL it goes straight to the driver connection of that
    transaction, compiled once: its SQL and its parameters exactly as
    SQLAlchemy sends them (each value through its type's bind processing, an
    expanding ``IN`` list as one array: ``= ANY(...)``), and each column of
    its rows through its type's result processing. SQLAlchemy's execution
    around a short statement costs several times the statement's own round
    trip. As in every session here (no autoflush), the statement sees what
    the session has flushed; a violated constraint raises SQLAlchemy's
    :class:`IntegrityError`, as it would through the session. Elsewhere it
    runs through the session.
    """
    if dialect_name(session) != "postgresql":
        result = await session.execute(statement, params)
        # A SELECT's result always has rows; a DML statement's says whether it has.
        return result.all() if getattr(result, "returns_rows", True) else []
    assert session.bind is not None
    compiled = _compiled(statement, session.bind.dialect)
    args = compiled.arguments(params)
    async with driver_connection(session) as connection:
        try:
            records = await connection.fetch(compiled.sql, *args)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(compiled.sql, args, exc) from exc
    if compiled.row is None:
        return []
    processors = compiled.results
    return [
        compiled.row(
            *(
                process(value) if process is not None else value
                for process, value in zip(processors, record, strict=True)
            )
        )
        for record in records
    ]


Processor = Callable[[Any], Any]
_REQUIRED = object()  # a parameter with no value of its own


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Each positional parameter: its name, its value when not given (or _REQUIRED),
    # its bind processing.
    parameters: tuple[tuple[str, Any, Processor | None], ...]
    # The rows' type (None: no rows) and each column's result processing.
    row: Any
    results: tuple[Processor | None, ...]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The driver's positional arguments for ``params``."""
        args = []
        for name, default, process in self.parameters:
            value = params.get(name, default)
            if value is _REQUIRED:
                raise KeyError(f"a value is required for bind parameter {name!r}")
            args.append(process(value) if process is not None else value)
        return args


@functools.lru_cache(maxsize=512)
def _compiled(statement: Any, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    # A default computed in Python (``default=``/``onupdate=`` of a column the
    # statement leaves out) is run by SQLAlchemy's execution, not here.
    prefetched = [*compiled.insert_prefetch, *compiled.update_prefetch]
    if prefetched:
        names = ", ".join(sorted(column.key for column in prefetched))
        raise ValueError(f"{names}: a default computed in Python is not run here; give a value")
    sql = compiled.string
    # Each parameter by the name its value is given under.
    binds = [(name, compiled.binds[name]) for name in compiled.positiontup or ()]
    # SQLAlchemy numbers the plain parameters $1, $2, ...; each expanding one
    # becomes an array numbered after them.
    plain = [(name, bind) for name, bind in binds if not bind.expanding]
    arrays = [(name, bind) for name, bind in binds if bind.expanding]
    for number, (name, bind) in enumerate(arrays, start=len(plain) + 1):
        placeholder = f"(__[POSTCOMPILE_{name}])"
        cast = dialect.type_compiler_instance.process(bind.type)
        for operator, array_operator in (("NOT IN ", "<> ALL"), ("IN ", "= ANY")):
            sql = sql.replace(operator + placeholder, f"{array_operator}(${number}::{cast}[])")
        if placeholder in sql:
            raise ValueError(f"{name}: an expanding parameter is run here only in IN")
    parameters = []
    for name, bind in plain + arrays:
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.expanding:
            process = _each(process) if process is not None else None
        parameters.append((name, _REQUIRED if bind.required else bind.value, process))
    columns = list(getattr(statement, "exported_columns", ()))
    row = (
        collections.namedtuple("Row", [column.key for column in columns], rename=True)  # type: ignore[misc]
        if columns
        else None
    )
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
    )
    return _Compiled(sql, tuple(parameters), row, results)


def _each(process: Processor) -> Processor:
    return lambda values: [process(value) for value in values]


async def run_many(
    session: AsyncSession, statement: Any, rows: Sequence[Mapping[str, Any]]
) -> None:
    """:func:`run_statement` once for each of ``rows``, in one round trip (an
    executemany) on PostgreSQL: no rows back."""
    if not rows:
        return
    if dialect_name(session) != "postgresql":
        await session.execute(statement, list(rows))
        return
    assert session.bind is not None
    compiled = _compiled(statement, session.bind.dialect)
    arguments = [compiled.arguments(row) for row in rows]
    async with driver_connection(session) as connection:
        await _executemany(connection, compiled.sql, arguments)


async def _executemany(connection: Any, sql: str, arguments: list[list[Any]]) -> None:
    try:
        await connection.executemany(sql, arguments)
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(sql, arguments, exc) from exc


def run_many_in_sync(session: Session, statement: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """:func:`run_many` from a sync session's own work inside SQLAlchemy's
    greenlet (a commit's)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        session.execute(statement, list(rows))
        return
    compiled = _compiled(statement, bind.dialect)
    pooled = session.connection().connection
    await_only(begun(pooled.dbapi_connection))
    arguments = [compiled.arguments(row) for row in rows]
    await_only(_executemany(pooled.driver_connection, compiled.sql, arguments))
