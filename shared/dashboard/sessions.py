"""Dashboard sessions: an api key exchanged for a server-side session.

The browser holds a random token (in a signed cookie set by the HTTP edge's
dashboard); the database holds only its SHA-256, the key it
stands for and the CSRF token of its forms. A session lives while it is used:
it ends after ``idle`` without a request, at sign-out, and at once when its
api key is deleted (the row goes with the key, and every lookup joins the key).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Forbidden
from shared.models import ApiKey, DashboardSession
from shared.security import grants, hash_api_key

IDLE_EXPIRY = dt.timedelta(hours=8)
# last_seen_at is written at most this often, not on every page view.
TOUCH_EVERY = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class SignedIn:
    """Who a session speaks for."""

    session_id: uuid.UUID
    api_key_id: uuid.UUID
    key_name: str
    key_prefix: str
    scopes: frozenset[str]
    organization_id: uuid.UUID | None
    csrf_token: str


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def start_session(session: AsyncSession, *, api_key: str) -> str | None:
    """A new session token for ``api_key``, or None when the key is unknown.

    The pages read records, so a key without ``read`` (e.g. webhooks only) is
    refused with Forbidden.
    """
    found = (
        await session.execute(
            select(ApiKey.id, ApiKey.scopes).where(ApiKey.key_hash == hash_api_key(api_key))
        )
    ).one_or_none()
    if found is None:
        return None
    api_key_id, scopes = found
    if not grants(scopes, "read"):
        raise Forbidden("This api key cannot read records, so it cannot sign in here.")
    now = dt.datetime.now(dt.UTC)
    await session.execute(
        delete(DashboardSession).where(DashboardSession.last_seen_at < now - IDLE_EXPIRY)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        DashboardSession(
            token_hash=_token_hash(token),
            api_key_id=api_key_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
        )
    )
    await session.flush()
    return token


async def resume_session(
    session: AsyncSession, *, token: str, idle: dt.timedelta = IDLE_EXPIRY
) -> SignedIn | None:
    """The session of ``token`` if it is still alive (and its key still exists)."""
    row = (
        await session.execute(
            select(
                DashboardSession.id,
                DashboardSession.csrf_token,
                DashboardSession.last_seen_at,
                ApiKey.id.label("api_key_id"),
                ApiKey.name,
                ApiKey.key_prefix,
                ApiKey.scopes,
                ApiKey.organization_id,
            )
            .join(ApiKey, ApiKey.id == DashboardSession.api_key_id)
            .where(DashboardSession.token_hash == _token_hash(token))
        )
    ).one_or_none()
    if row is None:
        return None
    now = dt.datetime.now(dt.UTC)
    last_seen = row.last_seen_at
    if last_seen.tzinfo is None:
        last_seen = last_seen.replace(tzinfo=dt.UTC)
    if now - last_seen > idle:
        await session.execute(delete(DashboardSession).where(DashboardSession.id == row.id))
        return None
    if now - last_seen > TOUCH_EVERY:
        await session.execute(
            update(DashboardSession).where(DashboardSession.id == row.id).values(last_seen_at=now)
        )
    return SignedIn(
        session_id=row.id,
        api_key_id=row.api_key_id,
        key_name=row.name,
        key_prefix=row.key_prefix,
        scopes=frozenset(row.scopes),
        organization_id=row.organization_id,
        csrf_token=row.csrf_token,
    )


async def end_session(session: AsyncSession, *, token: str) -> None:
    await session.execute(
        delete(DashboardSession).where(DashboardSession.token_hash == _token_hash(token))
    )
