"""Alembic environment: runs revisions on the async engine of the settings.

Batch mode lets the same revision alter tables on SQLite, which cannot ALTER
most things in place.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

import shared.models  # noqa: F401  (registers every table on the metadata)
from shared.db import Base, create_engine
from shared.settings import Settings, normalize_database_url

# pg_advisory_xact_lock key serializing upgrades ("accords" + "mig" in hex, any constant works).
MIGRATION_LOCK = 0x6163636F726473
config = context.config
target_metadata = Base.metadata


def _settings() -> Settings:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if url:
        return Settings(database_url=normalize_database_url(url))
    return Settings()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several processes may upgrade at once (replicas that each run
            # `accords migrate`): one at a time, each seeing what the last did.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_settings())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=_settings().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    existing = config.attributes.get("connection")
    if existing is not None:
        _run(existing)
    else:
        asyncio.run(_run_async())
