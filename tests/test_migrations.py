"""The Alembic history: one head, reversible, and in step with the models."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import shared.models  # noqa: F401
from shared.data_version import DATA_VERSIONS_TABLE
from shared.db import Base, create_engine
from shared.migrate import alembic_config, upgrade_async
from shared.settings import Settings
from tests.conftest import _create_pg_database, drop_pg_database_later, pg_url
from tests.servers import POSTGRES


def test_history_has_a_single_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))

    assert len(script.get_heads()) == 1


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    POSTGRES.require()
    name = f"accords_migrations_{uuid.uuid4().hex[:8]}"
    await _create_pg_database(name)
    try:
        yield pg_url(name)
    finally:
        drop_pg_database_later(name)


async def _run(database_url: str, action) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(Settings(database_url=database_url))
    config = alembic_config(database_url)

    def run(connection) -> None:  # type: ignore[no-untyped-def]
        config.attributes["connection"] = connection
        action(config)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade_round_trips(empty_database) -> None:
    await upgrade_async(empty_database)
    await _run(empty_database, lambda config: command.downgrade(config, "base"))
    await upgrade_async(empty_database)

    engine = create_engine(Settings(database_url=empty_database))
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(sync.dialect.get_table_names(sync)))
    finally:
        await engine.dispose()
    assert set(Base.metadata.tables) <= tables


def _modelled(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    # The data version's counters are written by triggers only, and kept out
    # of the models so that nothing empties them (shared.data_version).
    return not (type_ == "table" and name == DATA_VERSIONS_TABLE)


async def test_migrations_match_the_models(empty_database) -> None:
    await upgrade_async(empty_database)
    engine = create_engine(Settings(database_url=empty_database))
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(
                        sync,
                        opts={"compare_type": False, "include_object": _modelled},
                    ),
                    Base.metadata,
                )
            )
    finally:
        await engine.dispose()

    assert differences == []
