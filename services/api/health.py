"""Liveness, readiness and metrics: no api key needed."""

from __future__ import annotations

import asyncio
import os
import socket
from urllib.parse import urlsplit

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


@router.get(
    "/readyz",
    responses={503: {"description": "A dependency is unreachable"}},
)
async def readyz(request: Request) -> JSONResponse:
    """The database and the broker are reachable (503 otherwise)."""
    checks = {
        "database": await _database_ok(request),
        "broker": await _broker_ok(request.app.state.settings.broker_url),
    }
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


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


async def _database_ok(request: Request) -> bool:
    try:
        async with asyncio.timeout(3):
            async with request.app.state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


async def _broker_ok(broker_url: str) -> bool:
    """An embedded (in-process) broker is always there; a remote one must accept a connection."""
    if not broker_url:
        return True
    parts = urlsplit(broker_url)
    default_port = {"amqp": 5672, "amqps": 5671, "redis": 6379, "rediss": 6380}
    host = parts.hostname or "localhost"
    port = parts.port or default_port.get(parts.scheme, 5672)

    def connect() -> None:
        with socket.create_connection((host, port), timeout=2):
            pass

    try:
        await asyncio.to_thread(connect)
        return True
    except OSError:
        return False
