"""Liveness, readiness and metrics: no api key needed."""

from __future__ import annotations

import asyncio
import os

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from sqlalchemy import text

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and serving."""
    return {"status": "ok"}


# Each dependency gets this long to answer; the checks run side by side, so
# /readyz answers within about this long even when every dependency hangs.
CHECK_TIMEOUT_SECONDS = 1.5


@router.get(
    "/readyz",
    responses={503: {"description": "A dependency is unreachable; `failed` names which"}},
)
async def readyz(request: Request) -> JSONResponse:
    """The database answers a query and the broker speaks its protocol (503 otherwise).

    The broker check opens an AMQP connection and channel (RabbitMQ) or sends
    a PING (Redis): a port that accepts TCP but does not answer is not ready.
    """
    database, broker = await asyncio.gather(
        _database_problem(request), _broker_problem(request.app.state.settings.broker_url)
    )
    problems = {name: problem for name, problem in (("database", database), ("broker", broker))}
    checks = {name: problem is None for name, problem in problems.items()}
    ready = all(checks.values())
    body: dict[str, object] = {"status": "ok" if ready else "unavailable", "checks": checks}
    if not ready:
        failed = [name for name, problem in problems.items() if problem is not None]
        body["failed"] = failed
        body["detail"] = "; ".join(f"{name}: {problems[name]}" for name in failed)
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus metrics of this process (of all workers when multiprocess mode is on)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
        payload = generate_latest(registry)
    else:
        payload = generate_latest()
    return Response(payload, media_type=CONTENT_TYPE_LATEST)


async def _database_problem(request: Request) -> str | None:
    """None when the database answers ``SELECT 1`` in time, else what went wrong."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            async with request.app.state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        return None
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_SECONDS} s"
    except Exception as exc:  # any failure means not ready; the kind is enough to say
        return f"unreachable ({type(exc).__name__})"


async def _broker_problem(broker_url: str) -> str | None:
    """None when the broker speaks its protocol in time (always for the embedded one)."""
    if not broker_url:
        return None
    redis_broker = broker_url.startswith(("redis://", "rediss://"))
    # Imported on the first check, outside its time limit: the import is this
    # process's cost, not the broker's answer.
    if redis_broker:
        import redis.asyncio  # noqa: F401
    else:
        import pika  # noqa: F401
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            if redis_broker:
                await _redis_ping(broker_url)
            else:
                # pika blocks: a thread, bounded by its own timeouts as well.
                await asyncio.to_thread(_amqp_channel, broker_url)
        return None
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_SECONDS} s"
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"


async def _redis_ping(url: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(
        url,
        socket_timeout=CHECK_TIMEOUT_SECONDS,
        socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
        retry_on_timeout=False,
    )
    try:
        await client.ping()
    finally:
        await client.aclose()


def _amqp_channel(url: str) -> None:
    """Open an AMQP connection and a channel, then close them."""
    import pika

    parameters = pika.URLParameters(url)
    parameters.connection_attempts = 1
    parameters.retry_delay = 0
    parameters.socket_timeout = CHECK_TIMEOUT_SECONDS
    parameters.stack_timeout = CHECK_TIMEOUT_SECONDS
    parameters.blocked_connection_timeout = CHECK_TIMEOUT_SECONDS
    connection = pika.BlockingConnection(parameters)
    try:
        connection.channel().close()
    finally:
        connection.close()
