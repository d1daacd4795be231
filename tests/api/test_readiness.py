"""/readyz checks each dependency at its protocol, and answers 503 naming what failed, fast."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from services.api.health import CHECK_TIMEOUT_SECONDS
from shared.db import create_engine
from tests.conftest import client_for
from tests.servers import RABBITMQ, REDIS


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that completes the TCP handshake (the kernel's backlog) but never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A port nobody listens on: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def use_broker(app, url: str) -> None:  # type: ignore[no-untyped-def]
    app.state.settings = app.state.settings.model_copy(update={"broker_url": url})


async def open_database_connection(app) -> None:  # type: ignore[no-untyped-def]
    """The app's pool holds a database connection already: a test of the broker's
    check must not depend on a first connect (its dialect set-up) finishing within
    the database check's 1.5 s on a loaded machine (CI's, all cores busy)."""
    async with app.state.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def assert_bounded_by_the_check(elapsed: float) -> None:
    """The answer came from /readyz's own limit, not from the client's timeouts
    (pika's 10-15 s, asyncpg's 60 s). Not a speed target: the bound is loose
    because a CI machine whose cores are all busy delays the event loop (2.45 s
    seen once for a refused port, 2.01 s for a silent one)."""
    assert elapsed < CHECK_TIMEOUT_SECONDS + 3.5


async def readiness(app):  # type: ignore[no-untyped-def]
    async with client_for(app, None) as anonymous:
        started = time.monotonic()
        response = await anonymous.get("/readyz")
        return response, time.monotonic() - started


async def test_readiness_is_ok_with_a_running_rabbitmq(app) -> None:
    RABBITMQ.require()
    use_broker(app, "amqp://guest:guest@127.0.0.1:5672/")

    response, _ = await readiness(app)

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": True, "broker": True}}


async def test_readiness_is_ok_with_a_running_redis(app) -> None:
    REDIS.require()
    use_broker(app, "redis://127.0.0.1:6379/15")

    response, _ = await readiness(app)

    assert response.status_code == 200


@pytest.mark.parametrize("scheme", ["amqp://guest:guest@", "redis://"])
async def test_a_broker_port_that_accepts_tcp_but_speaks_nothing_is_not_ready_within_its_limit(
    app, silent_port, scheme
) -> None:
    await open_database_connection(app)
    use_broker(app, f"{scheme}127.0.0.1:{silent_port}/")

    response, elapsed = await readiness(app)

    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert response.json()["checks"] == {"database": True, "broker": False}
    assert response.json()["detail"].startswith("broker: ")
    assert_bounded_by_the_check(elapsed)


@pytest.mark.parametrize("scheme", ["amqp://guest:guest@", "redis://"])
async def test_an_unreachable_broker_port_is_not_ready(app, closed_port, scheme) -> None:
    await open_database_connection(app)
    use_broker(app, f"{scheme}127.0.0.1:{closed_port}/")

    response, elapsed = await readiness(app)

    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert response.json()["detail"].startswith("broker: ")
    assert_bounded_by_the_check(elapsed)


async def test_a_database_that_does_not_answer_is_not_ready_within_its_limit(
    app, settings, silent_port
) -> None:
    dead = settings.model_copy(
        update={"database_url": f"postgresql+asyncpg://postgres@127.0.0.1:{silent_port}/x"}
    )
    working, app.state.engine = app.state.engine, create_engine(dead)
    try:
        response, elapsed = await readiness(app)
    finally:
        await app.state.engine.dispose()
        app.state.engine = working

    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]
    assert response.json()["detail"] == f"database: no answer within {CHECK_TIMEOUT_SECONDS} s"
    assert_bounded_by_the_check(elapsed)
