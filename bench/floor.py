"""The floor of SPEC §15: what uvicorn + asyncpg + PostgreSQL can do with nothing on top.

A raw ASGI application (no framework, no ORM, no auth, no middleware):

* ``GET <any path>``: the bytes Accords answered for that path (query string
  included), pre-rendered into ``bench_floor_pages`` before the run, read back
  with one indexed PostgreSQL read per request and sent as they are. So each
  read scenario's floor sends the same bytes as the API, and the ratio shows
  what the application costs above one read of its answer.
* ``POST /v1/agreements``: the floor of a create. In one transaction it inserts
  the same rows the API's create inserts for the agreement (the agreement, its
  parties), its ``agreement.created`` event and its audit row, then answers
  201 with the stored row as JSON. No validation, no rules.

Run it with ``ACCORDS_BENCH_DSN=postgresql://127.0.0.1:5432/accords_bench
python -m bench.floor --port 8101 --workers 2``: uvicorn's workers started as
`accords serve` starts its own (forked, each listening on a socket of its
own: services.api.forked_workers), so the two servers differ in the app
alone. Each worker process creates its pool on the first request.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import asyncpg

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PAGES_TABLE = "bench_floor_pages"
CREATE_PAGES_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {PAGES_TABLE} "
    "(path text PRIMARY KEY, content_type text NOT NULL, body bytea NOT NULL)"
)
SELECT_PAGE = f"SELECT content_type, body FROM {PAGES_TABLE} WHERE path = $1"
STORE_PAGE = (
    f"INSERT INTO {PAGES_TABLE} (path, content_type, body) VALUES ($1, $2, $3) "
    "ON CONFLICT (path) DO UPDATE SET content_type = excluded.content_type, body = excluded.body"
)

INSERT_AGREEMENT = (
    "INSERT INTO agreements (id, reference, title, instrument_type, legal_character, summary, "
    "focus_areas, objectives, signed_at, effective_from, expires_on, status, terms_version, "
    "version, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8::json, $9, $10, $11, 'draft', 1, 1, $12, $12)"
)
INSERT_PARTY = (
    "INSERT INTO agreement_parties (agreement_id, organization_id, role, position) "
    "VALUES ($1, $2, $3, $4)"
)
INSERT_EVENT = (
    "INSERT INTO outbox_events "
    "(id, type, aggregate_type, aggregate_id, sequence, occurred_at, data) "
    "VALUES ($1, 'agreement.created', 'agreement', $2, 1, $3, $4::json)"
)
INSERT_AUDIT = (
    "INSERT INTO audit_log (id, at, action, entity_type, entity_id, after) "
    "VALUES ($1, $2, 'create', 'agreement', $3, $4::json)"
)

JSON = b"application/json"

_pool: asyncpg.Pool | None = None
_pool_lock = asyncio.Lock()


async def _get_pool() -> asyncpg.Pool:
    """The process's pool, created on first use (one per uvicorn worker)."""
    global _pool
    if _pool is None:
        async with _pool_lock:
            if _pool is None:
                _pool = await asyncpg.create_pool(
                    os.environ["ACCORDS_BENCH_DSN"],
                    min_size=1,
                    max_size=int(os.environ.get("ACCORDS_BENCH_POOL_SIZE", "10")),
                )
    return _pool


async def store_pages(dsn: str, pages: list[tuple[str, str, bytes]]) -> None:
    """Record ``(path, content type, body)`` for the floor to serve."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(CREATE_PAGES_TABLE)
        await connection.executemany(STORE_PAGE, pages)
    finally:
        await connection.close()


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


async def create_agreement(body: dict[str, Any]) -> bytes:
    """The same rows as the API's create, in one transaction; no rule checked."""
    agreement_id = uuid.uuid4()
    now = dt.datetime.now(dt.UTC)
    document = {**body, "id": str(agreement_id), "status": "draft", "version": 1}
    encoded = json.dumps(document)
    pool = await _get_pool()
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(
            INSERT_AGREEMENT,
            agreement_id,
            body["reference"],
            body["title"],
            body["instrument_type"],
            body["legal_character"],
            body.get("summary"),
            json.dumps(body.get("focus_areas", [])),
            json.dumps(body.get("objectives", [])),
            body.get("signed_at"),
            _date(body.get("effective_from")),
            _date(body.get("expires_on")),
            now,
        )
        await connection.executemany(
            INSERT_PARTY,
            [
                (agreement_id, uuid.UUID(party["organization_id"]), party["role"], position)
                for position, party in enumerate(body.get("parties", []))
            ],
        )
        await connection.execute(INSERT_EVENT, uuid.uuid4(), agreement_id, now, encoded)
        await connection.execute(INSERT_AUDIT, uuid.uuid4(), now, agreement_id, encoded)
    return encoded.encode()


async def _respond(send: Send, status: int, body: bytes, content_type: bytes = JSON) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _handle_http(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["path"] == "/healthz":
        await _respond(send, 200, b'{"status":"ok"}')
        return
    if scope["method"] == "POST" and scope["path"] == "/v1/agreements":
        body = json.loads(await _read_body(receive))
        await _respond(send, 201, await create_agreement(body))
        return
    if scope["method"] != "GET":
        await _respond(send, 405, b'{"status":405}')
        return
    path = scope["path"]
    if scope["query_string"]:
        path += "?" + scope["query_string"].decode("latin-1")
    pool = await _get_pool()
    async with pool.acquire() as connection:
        row = await connection.fetchrow(SELECT_PAGE, path)
    if row is None:
        await _respond(send, 404, b'{"status":404}')
    else:
        await _respond(send, 200, row["body"], row["content_type"].encode())


async def _handle_lifespan(receive: Receive, send: Send) -> None:
    global _pool
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _pool is not None:
                await _pool.close()
                _pool = None
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """ASGI entry point."""
    if scope["type"] == "http":
        await _handle_http(scope, receive, send)
    elif scope["type"] == "lifespan":
        await _handle_lifespan(receive, send)


def main(argv: list[str] | None = None) -> None:
    """Serve :func:`app` under uvicorn as `accords serve` serves the API."""
    import argparse

    from services.api import forked_workers
    from shared.logging import configure_logging

    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args(argv)
    configure_logging(level="warning")
    forked_workers.run(
        "bench.floor:app",
        host=options.host,
        port=options.port,
        workers=options.workers,
        access_log=False,
        log_config=None,
    )


if __name__ == "__main__":
    main()
