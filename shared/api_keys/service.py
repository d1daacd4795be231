"""Api key use cases, shared by the HTTP routes and the CLI."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.api_keys.schemas import ApiKeyPublic
from shared.db import insert_for, utcnow
from shared.errors import InvalidReference, NotFound
from shared.events import Actor, record_audit
from shared.ids import uuid7
from shared.models import ApiKey, Organization
from shared.rows import rows_after
from shared.security import SCOPES, display_prefix, generate_api_key, hash_api_key


async def create_api_key(
    session: AsyncSession,
    *,
    actor: Actor,
    name: str,
    scopes: Sequence[str],
    organization_id: uuid.UUID | None = None,
    key: str | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key and return it with its clear value (never stored)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)}")
    if organization_id is not None and "admin" in scopes:
        # Admin means everything (api keys, the audit log): a bound admin would be a lie.
        raise InvalidReference(
            "An admin key cannot be bound to an organization.",
            errors=[{"loc": ["body", "organization_id"], "msg": "not allowed with admin"}],
        )
    if organization_id is not None and await session.get(Organization, organization_id) is None:
        raise InvalidReference(
            f"No organization with id {organization_id}.",
            errors=[{"loc": ["body", "organization_id"], "msg": "no such organization"}],
        )
    clear = key or generate_api_key()
    api_key = ApiKey(
        id=uuid7(),
        name=name,
        key_hash=hash_api_key(clear),
        key_prefix=display_prefix(clear),
        scopes=sorted(set(scopes)),
        organization_id=organization_id,
    )
    session.add(api_key)
    await session.flush()
    record_audit(
        session,
        actor=actor,
        action="created",
        entity_type="api_key",
        entity_id=api_key.id,
        before=None,
        after=ApiKeyPublic.model_validate(api_key).model_dump(mode="json"),
    )
    return api_key, clear


async def ensure_api_key(session: AsyncSession, *, key: str, name: str) -> ApiKey:
    """Make sure an admin key with exactly this value exists (bootstrap).

    Safe when several processes run it at once (``accords serve --workers N``
    on a fresh database): the insert skips a key another process stored first,
    so exactly one of them stores it and writes its audit row.
    """
    key_hash = hash_api_key(key)
    statement = (
        insert_for(session)(ApiKey)
        .values(
            id=uuid7(),
            name=name,
            key_hash=key_hash,
            key_prefix=display_prefix(key),
            scopes=["admin"],
            organization_id=None,
            created_at=utcnow(),
            version=1,
        )
        .on_conflict_do_nothing(index_elements=["key_hash"])
        .returning(ApiKey.id)
    )
    inserted_id = await session.scalar(statement)
    api_key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))
    assert api_key is not None  # inserted now, or by whoever won the race
    if inserted_id is not None:
        record_audit(
            session,
            actor=Actor.system(),
            action="created",
            entity_type="api_key",
            entity_id=api_key.id,
            before=None,
            after=ApiKeyPublic.model_validate(api_key).model_dump(mode="json"),
        )
    return api_key


async def list_api_keys(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int
) -> list[ApiKey]:
    query = select(ApiKey)
    return await rows_after(session, query, ApiKey.id, after=after, limit=limit)


async def delete_api_key(session: AsyncSession, *, actor: Actor, api_key_id: uuid.UUID) -> None:
    """Revoke a key: it stops working on the very next request."""
    api_key = await session.get(ApiKey, api_key_id)
    if api_key is None:
        raise NotFound(f"Api key {api_key_id} does not exist.")
    before = ApiKeyPublic.model_validate(api_key).model_dump(mode="json")
    await session.delete(api_key)
    await session.flush()
    record_audit(
        session,
        actor=actor,
        action="deleted",
        entity_type="api_key",
        entity_id=api_key_id,
        before=before,
        after=None,
    )
