"""Fixtures: real databases (SQLite and PostgreSQL), the app, an admin client.

Each backend gets one database per test session, migrated by Alembic (the
same revisions production runs); tables are emptied between tests.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.api.app import create_app
from shared.db import Base, create_engine, create_sessionmaker
from shared.events import Actor
from shared.logging import configure_logging
from shared.migrate import upgrade_async
from shared.settings import Settings
from tests.servers import POSTGRES, POSTGRES_ADMIN_URL

os.environ.setdefault("ACCORDS_LOG_LEVEL", "warning")

BACKENDS = ["sqlite", "postgresql"]


async def _create_pg_database(name: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
        # A commit need not wait for its WAL to reach the disk: only a crash of
        # the server could lose it, and a test database outlives no crash.
        await connection.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await connection.close()


async def _drop_pg_database(name: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@asynccontextmanager
async def migrated_pg_database(prefix: str) -> AsyncIterator[str]:
    """A new PostgreSQL database at the head revision, named ``<prefix>_<random>``;
    dropped (in the background) afterwards."""
    POSTGRES.require()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await _create_pg_database(name)
    await upgrade_async(pg_url(name))
    try:
        yield name
    finally:
        drop_pg_database_later(name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files of ``slow`` tests first, then the files with the most tests.

    Parallel workers take a file at a time in this order (`make test` runs
    xdist with ``--no-loadscope-reorder``): the long process tests start
    first instead of being last and keeping one worker busy alone at the end.
    The order inside a file is kept.
    """
    counts = Counter(item.path for item in items)
    slow = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: (item.path not in slow, -counts[item.path]))


_PENDING_DROPS: list[threading.Thread] = []


def drop_pg_database_later(name: str) -> None:
    """Drop ``name`` on a thread of its own; the session waits for it at its end.

    DROP DATABASE waits for a checkpoint of the whole server (seconds, when
    other databases are busy) and no test needs to wait for it.
    """
    thread = threading.Thread(
        target=asyncio.run, args=(_drop_pg_database(name),), name=f"drop {name}", daemon=True
    )
    thread.start()
    _PENDING_DROPS.append(thread)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish() -> None:
    """Every database dropped later is gone before the session ends."""
    for thread in _PENDING_DROPS:
        thread.join(timeout=600)


def pg_url(database: str) -> str:
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return base.replace("postgresql://", "postgresql+asyncpg://", 1) + "/" + database


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    """A migrated PostgreSQL database of this test session."""
    POSTGRES.require()
    name = f"accords_test_{uuid.uuid4().hex[:10]}"
    await _create_pg_database(name)
    url = pg_url(name)
    await upgrade_async(url)
    try:
        yield url
    finally:
        drop_pg_database_later(name)


@pytest.fixture(scope="session")
async def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file of this test session (the embedded default)."""
    path: Path = tmp_path_factory.mktemp("sqlite") / "accords.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_async(url)
    return url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    fixture = "postgres_url" if backend == "postgresql" else "sqlite_url"
    return request.getfixturevalue(fixture)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        log_format="console",
        log_level="warning",
        environment="test",
    )


async def _empty_tables(engine: AsyncEngine) -> None:
    """Delete every row, children first.

    On PostgreSQL a DELETE of the few rows a test leaves is two orders of
    magnitude cheaper than TRUNCATE (which makes new files for every table
    and index, ~0.7 s a test on a busy disk). The replica role skips row
    triggers for this cleanup only: the audit log's append-only trigger and
    the foreign-key checks (the order already satisfies them). A role that
    may not take the replica role (not a superuser) truncates instead.
    """
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    if engine.dialect.name != "postgresql":
        async with engine.begin() as connection:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))
        return
    try:
        async with engine.begin() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            # One round trip: a simple-protocol query may hold several statements.
            await raw.execute(
                "SET LOCAL session_replication_role = replica; "
                + "; ".join(f"DELETE FROM {table}" for table in tables)
            )
    except asyncpg.InsufficientPrivilegeError:
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))


# What is kept per settings in this process (the most recent last): their
# engine, and the app built on it once a test asked for one.
#
# An engine's compiled statements are its own (SQLAlchemy's statement cache is
# keyed by the engine's dialect): a test on a new engine compiles every
# statement it runs again, ~15 % of an API test's time, and opens its
# connections again. Tests share one engine per settings instead (each test
# still starts with every table empty), and the app of the same settings is
# given it (:func:`create_app`'s ``engine``).
#
# Routing in a new app builds every included route's dependencies again
# (FastAPI does it on the app's first requests: ~0.2 s of CPU, a quarter of an
# API test's). An app holds nothing of a test outside its ``state``, which the
# lifespan refills (engine, caches, limiter) and :func:`app` puts back after
# each test, with the dependency overrides and the OpenAPI document (a copy
# each app makes once); an app whose routes or middleware a test changed is
# dropped. Bounded: each engine holds PostgreSQL connections open.
@dataclass
class _Kept:
    engine: AsyncEngine
    # The app, its state as built, and its shape (see :func:`_shape`).
    app: tuple[FastAPI, dict[str, Any], int] | None = None


_KEPT: OrderedDict[str, _Kept] = OrderedDict()
_KEPT_AT_MOST = 4
_IDLE_CONNECTIONS_KEPT = 4


async def _kept_for(settings: Settings) -> _Kept:
    key = settings.model_dump_json()
    kept = _KEPT.pop(key, None) or _Kept(create_engine(settings))
    _KEPT[key] = kept
    while len(_KEPT) > _KEPT_AT_MOST:
        _, dropped = _KEPT.popitem(last=False)
        await dropped.engine.dispose()
    return kept


@pytest.fixture(scope="session", autouse=True)
async def _dispose_kept_engines() -> AsyncIterator[None]:
    yield
    while _KEPT:
        _, kept = _KEPT.popitem()
        await kept.engine.dispose()


@pytest.fixture
async def _kept(settings: Settings) -> _Kept:
    """What is kept for this test's settings (its engine and app)."""
    return await _kept_for(settings)


@pytest.fixture
async def engine(_kept: _Kept) -> AsyncIterator[AsyncEngine]:
    """The engine of ``settings``, every table empty; shared with the tests and
    the app of the same settings."""
    engine = _kept.engine
    await _empty_tables(engine)
    yield engine
    if engine.sync_engine.pool.checkedin() > _IDLE_CONNECTIONS_KEPT:
        # A burst left many open: closed, so that the kept engines of four
        # test workers stay well inside PostgreSQL's max_connections (its
        # compiled statements stay: they are the engine's, not the pool's).
        await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with create_sessionmaker(engine)() as session:
        yield session


def _shape(application: FastAPI) -> int:
    return hash((tuple(map(id, application.router.routes)), repr(application.user_middleware)))


@pytest.fixture
async def app(settings: Settings, _kept: _Kept, engine: AsyncEngine):  # type: ignore[no-untyped-def]
    kept = _kept  # the engine fixture's
    if kept.app is None:
        application = create_app(settings, engine=engine)
        kept.app = (application, dict(application.state._state), _shape(application))
    else:
        configure_logging(log_format=settings.log_format, level=settings.log_level)
    application, state, shape = kept.app
    try:
        async with application.router.lifespan_context(application):
            yield application
    finally:
        application.dependency_overrides.clear()
        application.openapi_schema = None
        application.state._state.clear()
        application.state._state.update(state)
        if _shape(application) != shape:
            kept.app = None


async def make_key(app, scopes: list[str], *, organization_id: uuid.UUID | None = None) -> str:  # type: ignore[no-untyped-def]
    from shared.api_keys.service import create_api_key

    async with app.state.sessionmaker() as session:
        _, key = await create_api_key(
            session,
            actor=Actor.system(),
            name=f"test {'+'.join(scopes)}",
            scopes=scopes,
            organization_id=organization_id,
        )
        await session.commit()
    return key


def client_for(app, key: str | None) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://accords.test",
        headers=headers,
    )


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """An admin client."""
    key = await make_key(app, ["admin"])
    async with client_for(app, key) as admin:
        yield admin
