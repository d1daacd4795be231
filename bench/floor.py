"""The floor for this stack: the same reads as the API, with nothing on top.

A raw ASGI application (no framework, no ORM, no auth, no middleware) that
answers the two read paths the benchmark measures with asyncpg and the
standard library's JSON encoder. Served by the same uvicorn as Accords, it
shows how fast "uvicorn + asyncpg + PostgreSQL" can answer at best on this
machine, so the API's figures can be read as a ratio of that.

    GET /agreements/{id}        one agreement row plus its parties
    GET /agreements?limit=50    a page of agreements ordered by id, each with its parties

Run it with ``ACCORDS_BENCH_DSN=postgresql://127.0.0.1:5432/accords_bench
uvicorn bench.floor:app --workers 2 --no-access-log``. Each worker process
creates its pool on the first request.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import asyncpg

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

AGREEMENT_COLUMNS = (
    "id, reference, title, instrument_type, legal_character, status, summary, "
    "focus_areas, objectives, signed_on, signed_at, effective_from, expires_on, "
    "version, created_at, updated_at"
)
SELECT_AGREEMENT = f"SELECT {AGREEMENT_COLUMNS} FROM agreements WHERE id = $1"
SELECT_AGREEMENT_PAGE = f"SELECT {AGREEMENT_COLUMNS} FROM agreements ORDER BY id LIMIT $1"
SELECT_PARTIES = (
    "SELECT organization_id, role FROM agreement_parties WHERE agreement_id = $1 ORDER BY position"
)
SELECT_PARTIES_OF_PAGE = (
    "SELECT agreement_id, organization_id, role FROM agreement_parties "
    "WHERE agreement_id = ANY($1::uuid[]) ORDER BY agreement_id, position"
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
JSON_HEADERS = [(b"content-type", b"application/json")]

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
                    init=_init_connection,
                )
    return _pool


async def _init_connection(connection: asyncpg.Connection) -> None:
    # asyncpg hands jsonb back as text; decode it as the API would.
    await connection.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=json.dumps, decoder=json.loads, format="text"
    )


def _json_default(value: object) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _encode(document: object) -> bytes:
    return json.dumps(document, default=_json_default, separators=(",", ":")).encode()


def _agreement_document(row: asyncpg.Record, parties: list[dict[str, Any]]) -> dict[str, Any]:
    document = dict(row)
    document["parties"] = parties
    return document


async def read_agreement(agreement_id: uuid.UUID) -> dict[str, Any] | None:
    pool = await _get_pool()
    async with pool.acquire() as connection:
        row = await connection.fetchrow(SELECT_AGREEMENT, agreement_id)
        if row is None:
            return None
        party_rows = await connection.fetch(SELECT_PARTIES, agreement_id)
    return _agreement_document(row, [dict(party) for party in party_rows])


async def read_agreement_page(limit: int) -> dict[str, Any]:
    pool = await _get_pool()
    async with pool.acquire() as connection:
        rows = await connection.fetch(SELECT_AGREEMENT_PAGE, limit)
        ids = [row["id"] for row in rows]
        party_rows = await connection.fetch(SELECT_PARTIES_OF_PAGE, ids) if ids else []
    parties: dict[uuid.UUID, list[dict[str, Any]]] = {agreement_id: [] for agreement_id in ids}
    for party in party_rows:
        parties[party["agreement_id"]].append(
            {"organization_id": party["organization_id"], "role": party["role"]}
        )
    items = [_agreement_document(row, parties[row["id"]]) for row in rows]
    next_cursor = str(ids[-1]) if len(ids) == limit else None
    return {"items": items, "next_cursor": next_cursor}


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": body})


async def _not_found(send: Send) -> None:
    await _respond(send, 404, b'{"status":404,"title":"Not Found"}')


async def _handle_http(scope: Scope, send: Send) -> None:
    if scope["method"] != "GET":
        await _respond(send, 405, b'{"status":405,"title":"Method Not Allowed"}')
        return
    segments = scope["path"].strip("/").split("/")
    if segments == ["healthz"]:
        await _respond(send, 200, b'{"status":"ok"}')
    elif segments == ["agreements"]:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        try:
            limit = int(query.get("limit", [DEFAULT_LIMIT])[0])
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            await _respond(send, 422, b'{"status":422,"title":"Unprocessable Content"}')
            return
        await _respond(send, 200, _encode(await read_agreement_page(limit)))
    elif len(segments) == 2 and segments[0] == "agreements":
        try:
            agreement_id = uuid.UUID(segments[1])
        except ValueError:
            await _not_found(send)
            return
        document = await read_agreement(agreement_id)
        if document is None:
            await _not_found(send)
        else:
            await _respond(send, 200, _encode(document))
    else:
        await _not_found(send)


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
        await _handle_http(scope, send)
    elif scope["type"] == "lifespan":
        await _handle_lifespan(receive, send)
