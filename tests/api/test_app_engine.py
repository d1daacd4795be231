"""An app given an engine (``create_app(engine=...)``) uses it and leaves it open."""

from __future__ import annotations

from sqlalchemy import text

from services.api.app import create_app
from shared.db import create_engine


async def test_a_given_engine_serves_every_lifespan_and_outlives_them(settings) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(settings)
    try:
        application = create_app(settings, engine=engine)
        for _ in range(2):
            async with application.router.lifespan_context(application):
                assert application.state.engine is engine
                async with application.state.sessionmaker() as session:
                    assert await session.scalar(text("SELECT 1")) == 1
            # The lifespan's end leaves the engine as it was: not disposed (its
            # pool keeps the connection the session used), still usable.
            assert engine.sync_engine.pool.checkedin() >= 1
            async with engine.connect() as connection:
                assert await connection.scalar(text("SELECT 2")) == 2
    finally:
        await engine.dispose()


async def test_without_an_engine_each_lifespan_makes_and_disposes_its_own(settings) -> None:  # type: ignore[no-untyped-def]
    application = create_app(settings)
    engines = []
    for _ in range(2):
        async with application.router.lifespan_context(application):
            engines.append(application.state.engine)
            async with application.state.sessionmaker() as session:
                await session.scalar(text("SELECT 1"))
            assert engines[-1].sync_engine.pool.checkedin() >= 1
        # Disposed: its pool holds no connection any more.
        assert engines[-1].sync_engine.pool.checkedin() == 0
    assert engines[0] is not engines[1]
