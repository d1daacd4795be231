"""`Idempotency-Key` on every POST: a retried request never makes a second change.

How it works, per request that sends the header (scoped per api key):

1. While authenticating (``services.api.deps``), :func:`claim_idempotency_key`
   runs in the request's own transaction. On PostgreSQL it first takes a
   transaction-scoped advisory lock on (api key, Idempotency-Key); if another
   request holds it, the first is still running: 409. (SQLite runs one writer
   at a time, every transaction being ``BEGIN IMMEDIATE``, so there a second
   request simply waits for the first and then replays it.) It then looks up
   the stored record: same request fingerprint -> the stored response is
   replayed; another fingerprint -> 422.
2. The route runs as usual. When it has produced its response, and before the
   session dependency commits, the response (status, body, ``Location``,
   ``ETag``, content type) is added to the same transaction.

So the record commits exactly when the change commits, and the lock is freed
by that same commit. Crash safety: a process dying mid-request rolls the whole
transaction back, record and change together, and frees the lock; the retry
then runs afresh. There is no "in progress" row that a crash could leave stuck.
A request that fails (an exception, hence a rollback) stores nothing: it
changed nothing, and a retry is evaluated again.

The fingerprint is the SHA-256 of the method, path, query string and raw body.
Records live 24 hours; :func:`prune_idempotency_records` deletes expired ones
(the worker's sweep calls it; an expired record met on the way is replaced).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import BigInteger, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Conflict, DomainError
from shared.ids import uuid7
from shared.models import IdempotencyRecord
from shared.statements import insert_together, run_statement

if TYPE_CHECKING:
    from services.api.auth import Principal

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
RETENTION = dt.timedelta(hours=24)
REPLAYED_HEADER = "Idempotent-Replayed"
_STORED_HEADERS = ("content-type", "location", "etag")


class InvalidIdempotencyKey(DomainError):
    status = 422
    type_slug = "invalid-idempotency-key"
    title = "Invalid Idempotency-Key"


class IdempotencyKeyReused(DomainError):
    status = 422
    type_slug = "idempotency-key-reused"
    title = "Idempotency-Key reused with another request"


class IdempotencyKeyInFlight(Conflict):
    type_slug = "idempotency-key-in-flight"
    title = "Request with this Idempotency-Key still running"


# Built once: every POST with the header runs them.
_TRY_LOCK = select(func.pg_try_advisory_xact_lock(bindparam("lock_id", type_=BigInteger)))
_RECORDS = IdempotencyRecord.__table__
_RECORD_OF = select(
    _RECORDS.c.id,
    _RECORDS.c.request_hash,
    _RECORDS.c.status_code,
    _RECORDS.c.response_headers,
    _RECORDS.c.response_body,
    _RECORDS.c.expires_at,
).where(_RECORDS.c.api_key_id == bindparam("api_key_id"), _RECORDS.c.key == bindparam("key"))
_DELETE_RECORD = delete(_RECORDS).where(_RECORDS.c.id == bindparam("id"))


class _Replay(Exception):
    """Raised while authenticating to answer with a stored response."""

    def __init__(self, record: Any) -> None:
        super().__init__("replay")
        # Copied out of the stored row, which the rollback that follows does not need.
        self.status_code = record.status_code
        self.headers = dict(record.response_headers)
        self.body = bytes(record.response_body)


@dataclass(frozen=True)
class _Claim:
    session: AsyncSession
    api_key_id: uuid.UUID
    key: str
    request_hash: str


def advisory_lock_id(api_key_id: uuid.UUID, key: str) -> int:
    """The PostgreSQL advisory lock (a signed 64-bit integer) of one key."""
    digest = hashlib.sha256(f"idempotency:{api_key_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def request_fingerprint(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\n")
    digest.update(request.url.path.encode())
    digest.update(b"?")
    digest.update(request.url.query.encode())
    digest.update(b"\n")
    digest.update(body)
    return digest.hexdigest()


async def claim_idempotency_key(
    request: Request, session: AsyncSession, principal: Principal
) -> None:
    """Replay, refuse, or let the request run and remember to store its answer."""
    key = request.headers.get(HEADER)
    if key is None:
        return
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidIdempotencyKey(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters long.",
            errors=[{"loc": ["header", HEADER], "msg": f"length must be 1-{MAX_KEY_LENGTH}"}],
        )
    request_hash = request_fingerprint(request, await request.body())
    if session.bind.dialect.name == "postgresql":
        lock_id = advisory_lock_id(principal.api_key_id, key)
        [(locked,)] = await run_statement(session, _TRY_LOCK, {"lock_id": lock_id})
        if not locked:
            raise IdempotencyKeyInFlight(
                f"A request with this {HEADER} is still being processed; retry it shortly.",
                headers={"Retry-After": "1"},
            )
    found = await run_statement(
        session, _RECORD_OF, {"api_key_id": principal.api_key_id, "key": key}
    )
    if found:
        [record] = found
        if record.expires_at > dt.datetime.now(dt.UTC):
            if record.request_hash != request_hash:
                raise IdempotencyKeyReused(
                    f"This {HEADER} was already used with a different request "
                    "(method, path or body); use a new key for a new request.",
                    errors=[{"loc": ["header", HEADER], "msg": "already used for another request"}],
                )
            raise _Replay(record)
        await run_statement(session, _DELETE_RECORD, {"id": record.id})
    request.state.idempotency_claim = _Claim(
        session=session, api_key_id=principal.api_key_id, key=key, request_hash=request_hash
    )


async def _store_response(request: Request, response: Response) -> None:
    """Add the response to the request's transaction, which is about to commit."""
    claim: _Claim | None = getattr(request.state, "idempotency_claim", None)
    body = getattr(response, "body", None)
    if claim is None or not isinstance(body, bytes | bytearray | memoryview):
        return
    headers = {name: response.headers[name] for name in _STORED_HEADERS if name in response.headers}
    now = dt.datetime.now(dt.UTC)
    record = {
        "id": uuid7(),
        "api_key_id": claim.api_key_id,
        "key": claim.key,
        "request_hash": claim.request_hash,
        "status_code": response.status_code,
        "response_headers": headers,
        "response_body": bytes(body),
        "created_at": now,
        "expires_at": now + RETENTION,
    }
    await insert_together(claim.session, [(_RECORDS, [record])])


async def _replay(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _Replay)
    headers = dict(exc.headers)
    media_type = headers.pop("content-type", None)
    headers[REPLAYED_HEADER] = "true"
    return Response(
        content=exc.body,
        status_code=exc.status_code,
        headers=headers,
        media_type=media_type,
    )


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        included = getattr(route, "original_router", None)
        if included is not None:
            found.extend(_api_routes(included.routes))
    return found


def _make_idempotent(route: APIRoute) -> None:
    """Wrap the route's handler so its response joins the request's transaction.

    The handler returns the finished response while the function-scoped
    dependencies (the session) are still open: the record is flushed there
    and committed with the change.
    """
    if getattr(route, "_accords_idempotent", False):
        return
    build_handler = route.get_route_handler

    def get_route_handler() -> Any:
        handler = build_handler()

        async def idempotent_handler(request: Request) -> Response:
            response = await handler(request)
            await _store_response(request, response)
            return response

        return idempotent_handler

    route.get_route_handler = get_route_handler  # type: ignore[method-assign]
    route._accords_idempotent = True  # type: ignore[attr-defined]


def install_idempotency(app: FastAPI) -> None:
    """Make every POST route honour `Idempotency-Key`; call after the routers are included."""
    app.add_exception_handler(_Replay, _replay)
    for route in _api_routes(app.router.routes):
        if "POST" in route.methods:
            direct = route in app.router.routes
            _make_idempotent(route)
            if direct:
                from fastapi.routing import request_response

                route.app = request_response(route.get_route_handler())


async def prune_idempotency_records(session: AsyncSession) -> int:
    """Delete records past their 24 hours; returns how many. Flushes, does not commit."""
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= dt.datetime.now(dt.UTC))
    )
    return int(result.rowcount or 0)


def document_idempotency(openapi: dict[str, Any]) -> dict[str, Any]:
    """Declare the `Idempotency-Key` header, and its 409/422 answers, on every `/v1` POST."""
    parameter = {
        "name": HEADER,
        "in": "header",
        "required": False,
        "description": (
            "Makes the POST safe to retry. Within 24 h, the same key with the same "
            "request (by the same api key) replays the first response, marked "
            f"`{REPLAYED_HEADER}: true`; with another request it answers 422; while "
            "the first is still running, 409."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    }
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, path_item in openapi.get("paths", {}).items():
        operation = path_item.get("post")
        if not path.startswith("/v1") or operation is None:
            continue
        parameters = operation.setdefault("parameters", [])
        if not any(existing.get("name") == HEADER for existing in parameters):
            parameters.append(parameter)
        responses = operation.setdefault("responses", {})
        responses.setdefault("409", {"description": "Conflict", "content": problem})
        responses.setdefault("422", {"description": "Validation error", "content": problem})
    return openapi
