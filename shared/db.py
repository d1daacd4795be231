"""Database plumbing: declarative base, column types, engine and session factories.

No engine lives at module level: the API's lifespan and the worker's start-up
build one from the settings they were given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pydantic_core
from sqlalchemy import (
    JSON,
    DateTime,
    MetaData,
    TypeDecorator,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.util import greenlet_spawn

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
    # shared.rendered_session stands on the models, which stand on this module.
    from shared.rendered_session import RenderingSession

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
# The connection a block of :func:`write_on_its_own` borrowed (session.info).
_OWN_CONNECTION = "accords_own_connection"


@asynccontextmanager
async def driver_connection(session: AsyncSession) -> AsyncIterator[Any]:
    """The asyncpg connection for a hand-written statement (PostgreSQL only).

    Inside a transaction this is the session's own connection, so the
    statement sees and joins it. An autocommit read session (see
    :func:`create_read_sessionmaker`) that has not begun one borrows a
    connection straight from the engine's pool instead: each statement is its
    own transaction there anyway, and the session's connection bookkeeping
    costs more than a short indexed read. Inside a block of
    :func:`write_on_its_own`, before any transaction, it is that block's
    connection, in autocommit.
    """
    own = session.info.get(_OWN_CONNECTION)
    if own is not None and not session.in_transaction():
        yield own
        return
    if session.in_transaction() or not session.info.get(AUTOCOMMIT_READS):
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        await begun(raw.dbapi_connection)
        yield raw.driver_connection
        return
    assert session.bind is not None
    async with borrowed_connection(session.bind) as connection:  # type: ignore[arg-type]
        yield connection


@asynccontextmanager
async def write_on_its_own(session: AsyncSession) -> AsyncIterator[None]:
    """A change written in one statement commits on its own: no BEGIN and
    COMMIT round trips around it (PostgreSQL).

    Inside the block, the statements run through :func:`driver_connection`
    (``run_statement``, ``insert_together``) go, each committing on its own,
    over one connection borrowed from the pool. For a block whose one write
    is a single statement (atomic by itself), after reads that share no
    snapshot with it: under READ COMMITTED they share none inside a
    transaction either, and the constraints catch a race there as here.

    A session that has a transaction open already (an Idempotency-Key
    claimed in it, earlier writes, pending ORM changes) keeps it, and so
    does SQLite: the block then changes nothing. A statement that goes
    through the session inside the block begins the session's transaction
    as usual, and later ones join it.
    """
    if (
        dialect_name(session) != "postgresql"
        or session.in_transaction()
        or session.new
        or session.dirty
        or session.deleted
        or _OWN_CONNECTION in session.info
    ):
        yield
        return
    assert session.bind is not None
    async with borrowed_connection(session.bind) as connection:  # type: ignore[arg-type]
        session.info[_OWN_CONNECTION] = connection
        try:
            yield
        finally:
            del session.info[_OWN_CONNECTION]


async def begun(adapted: Any) -> None:
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


def dialect_name(bind: AsyncSession | AsyncConnection | AsyncEngine) -> str:
    """The dialect behind ``bind``; a session with no bind is taken to be SQLite."""
    engine = bind.bind if isinstance(bind, AsyncSession) else bind
    return engine.dialect.name if engine is not None else "sqlite"
