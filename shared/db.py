"""Database plumbing: declarative base, column types, engine and session factories.

No engine lives at module level: the API's lifespan and the worker's start-up
build one from the settings they were given.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import pydantic_core
from sqlalchemy import (
    JSON,
    DateTime,
    MetaData,
    Table,
    TypeDecorator,
    bindparam,
    event,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.util import await_only, greenlet_spawn

from shared.clock import utcnow  # noqa: F401 - the clock's, re-exported for its callers here
from shared.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on PostgreSQL and SQLite alike.

    SQLite stores no offset, so values are normalised to UTC on the way in and
    marked UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def create_engine(settings: Settings, **overrides: Any) -> AsyncEngine:
    """Build the async engine for ``settings.database_url``."""
    url = settings.database_url
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url,
            connect_args={"timeout": 30},
            **overrides,
        )
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it costs a round trip per checkout. Connections are
    # recycled before servers or proxies drop them, and a broken one is
    # invalidated by the error it raises.
    options: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_recycle": 1800,
        # jsonb values (event data, audit rows, rollup bodies) encoded and
        # decoded by pydantic-core: several times json's speed, the same documents.
        "json_serializer": json_text,
        "json_deserializer": pydantic_core.from_json,
    }
    options.update(overrides)
    return create_async_engine(url, **options)


def json_text(value: Any) -> str:
    """A JSON document as text, as PostgreSQL's jsonb takes it."""
    return pydantic_core.to_json(value).decode()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the sqlite3 module so that BEGIN
        # IMMEDIATE below is what actually starts every transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the lock up front: a deferred transaction that reads and
        # then writes can fail with SQLITE_BUSY instead of waiting.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _session_class() -> type[Any]:
    # Every session keeps rendered JSON in step with its writes. Imported here:
    # shared.rendered stands on the models, which stand on this module.
    from shared.rendered import RenderingSession

    return RenderingSession


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        engine, expire_on_commit=False, autoflush=False, sync_session_class=_session_class()
    )


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for requests that only read.

    On PostgreSQL they run in autocommit: no BEGIN and COMMIT round trips
    around a GET. Each statement still sees committed data only; a read that
    needs one snapshot across statements loads in one statement (joined
    loading) or takes a normal session. SQLite keeps its transactions (its
    reads are local calls, and the begin hook serialises them with writers).
    """
    if engine.dialect.name == "postgresql":
        return create_autocommit_sessionmaker(engine, info={AUTOCOMMIT_READS: True})
    return create_sessionmaker(engine)


def create_autocommit_sessionmaker(
    engine: AsyncEngine, **options: Any
) -> async_sessionmaker[AsyncSession]:
    """Sessions whose statements each commit on their own, on PostgreSQL: no
    BEGIN and COMMIT round trips. For reads, and for writes done in a single
    statement (atomic by itself). SQLite keeps its transactions."""
    if engine.dialect.name != "postgresql":
        return create_sessionmaker(engine)
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"),
        expire_on_commit=False,
        autoflush=False,
        sync_session_class=_session_class(),
        **options,
    )


AUTOCOMMIT_READS = "autocommit_reads"


@asynccontextmanager
async def driver_connection(session: AsyncSession) -> AsyncIterator[Any]:
    """The asyncpg connection for a hand-written statement (PostgreSQL only).

    Inside a transaction this is the session's own connection, so the
    statement sees and joins it. An autocommit read session (see
    :func:`create_read_sessionmaker`) that has not begun one borrows a
    connection straight from the engine's pool instead: each statement is its
    own transaction there anyway, and the session's connection bookkeeping
    costs more than a short indexed read.
    """
    if session.in_transaction() or not session.info.get(AUTOCOMMIT_READS):
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        await _begun(raw.dbapi_connection)
        yield raw.driver_connection
        return
    assert session.bind is not None
    async with borrowed_connection(session.bind) as connection:  # type: ignore[arg-type]
        yield connection


async def _begun(adapted: Any) -> None:
    """Send the transaction's BEGIN now if SQLAlchemy has not yet.

    SQLAlchemy's asyncpg adapter begins the driver's transaction lazily, on
    its first statement (as here: the same check and call); a statement
    sent to the driver before any went through SQLAlchemy would otherwise
    run, and commit, on its own.
    """
    if getattr(adapted, "_transaction", None) is None and not adapted.autocommit:
        await adapted._start_transaction()


@asynccontextmanager
async def borrowed_connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    """An asyncpg connection straight from the engine's pool, for autocommit reads."""
    pooled = await engine.raw_connection()
    try:
        yield pooled.driver_connection
    finally:
        # Returning it may close an overflow connection, which awaits.
        await greenlet_spawn(pooled.close)


def insert_for(bind: AsyncSession | AsyncConnection | AsyncEngine) -> Any:
    """The ``insert`` of the dialect behind ``bind``, which has ``on_conflict_do_*``.

    PostgreSQL's and SQLite's share that interface; a session with no bind
    is taken to be SQLite.
    """
    return insert_of(dialect_name(bind))


def insert_of(dialect: str) -> Any:
    """:func:`insert_for` by the dialect's name (for statements built once per dialect)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


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


def dialect_name(bind: AsyncSession | AsyncConnection | AsyncEngine) -> str:
    """The dialect behind ``bind``; a session with no bind is taken to be SQLite."""
    engine = bind.bind if isinstance(bind, AsyncSession) else bind
    return engine.dialect.name if engine is not None else "sqlite"


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
    await_only(_begun(pooled.dbapi_connection))
    arguments = [compiled.arguments(row) for row in rows]
    await_only(_executemany(pooled.driver_connection, compiled.sql, arguments))
