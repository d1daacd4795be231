"""Request-scoped dependencies: the transaction, the caller and its scopes.

One transaction per request: services ``flush()``; the session dependency
commits after the route returns and before the response is sent, so a client
never sees a success that was not committed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.auth import BEARER_CHALLENGE, Principal, parse_bearer, principal_for
from services.api.idempotency import claim_idempotency_key
from shared.db import driver_connection
from shared.errors import Forbidden, Unauthorized
from shared.events import new_event_ids
from shared.models import ApiKey
from shared.security import grants, hash_api_key
from shared.settings import Settings

log = structlog.get_logger("accords.api")


READ_METHODS = frozenset({"GET", "HEAD"})


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    state = request.app.state
    reads_only = request.method in READ_METHODS and hasattr(state, "read_sessionmaker")
    sessionmaker = state.read_sessionmaker if reads_only else state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        if session.in_transaction() or session.new or session.deleted:
            await session.commit()
        # Else nothing went through the session: raw reads, or a write that
        # committed on its own (shared.db.write_on_its_own), whose events are
        # handed over all the same.
        event_ids = new_event_ids(session)
        if event_ids:
            try:
                await request.app.state.after_commit(event_ids)
            except Exception:
                # The change is committed; the outbox relay delivers the events
                # later. The client must not see a failure for a stored write.
                log.warning("event_handoff_failed", events=len(event_ids), exc_info=True)


SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(_settings)]


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized(
            "Send an api key as 'Authorization: Bearer <key>'.",
            headers={"WWW-Authenticate": BEARER_CHALLENGE},
        )
    token = parse_bearer(header)
    if token is None:
        raise Unauthorized(
            "The Authorization header must use the Bearer scheme.",
            headers={"WWW-Authenticate": BEARER_CHALLENGE},
        )
    return token


async def _authenticate(request: Request, session: AsyncSession) -> Principal:
    key_hash = hash_api_key(_bearer_token(request))
    cache = request.app.state.api_key_cache
    if cache is None:
        row = await _find_api_key(session, key_hash)
    else:
        row = await cache.lookup(key_hash, lambda key_hash: _find_api_key(session, key_hash))
    if row is None:
        raise Unauthorized(
            "The api key is unknown or has been revoked.",
            headers={"WWW-Authenticate": f'{BEARER_CHALLENGE}, error="invalid_token"'},
        )
    principal = principal_for(row, request_id=getattr(request.state, "request_id", None))
    request.state.principal = principal
    if request.method == "POST":
        # In this transaction: replays, refuses, or lets the request run (Idempotency-Key).
        await claim_idempotency_key(request, session, principal)
    return principal


_KEY_LOOKUP = select(ApiKey.id, ApiKey.scopes, ApiKey.organization_id)
_KEY_LOOKUP_SQL = "SELECT id, scopes, organization_id FROM api_keys WHERE key_hash = $1"


async def _find_api_key(session: AsyncSession, key_hash: str) -> Any:
    """The key's id, scopes and organization, or None.

    On PostgreSQL the API process caches the answer (services.api.api_keys.cache);
    a miss skips the ORM and runs a prepared statement.
    """
    if session.bind.dialect.name != "postgresql":
        return (await session.execute(_KEY_LOOKUP.where(ApiKey.key_hash == key_hash))).one_or_none()
    async with driver_connection(session) as connection:
        record = await connection.fetchrow(_KEY_LOOKUP_SQL, key_hash)
    if record is None:
        return None
    scopes = record["scopes"]
    return _KeyRow(
        id=record["id"],
        scopes=json.loads(scopes) if isinstance(scopes, str) else scopes,
        organization_id=record["organization_id"],
    )


@dataclass(frozen=True)
class _KeyRow:
    id: uuid.UUID
    scopes: list[str]
    organization_id: uuid.UUID | None


def require(scope: str) -> Callable[[Request, AsyncSession], Awaitable[Principal]]:
    """A dependency that lets the request through only with ``scope``.

    Authentication happens inside it rather than in a sub-dependency: each
    level of dependencies costs FastAPI a resolution pass on every request.
    """

    async def check(request: Request, session: SessionDep) -> Principal:
        principal = await _authenticate(request, session)
        if not grants(principal.scopes, scope):
            raise Forbidden(f"This operation needs the '{scope}' scope.")
        return principal

    return check


Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]
Admin = Annotated[Principal, Depends(require("admin"))]
WebhookManager = Annotated[Principal, Depends(require("webhooks"))]
