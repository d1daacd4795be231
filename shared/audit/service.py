"""Reading the audit log. Rows are only ever added, by ``shared.events``."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import AuditEntry
from shared.rows import rows_after


async def list_audit_entries(
    session: AsyncSession,
    *,
    after: uuid.UUID | None,
    limit: int,
    entity_type: str | None = None,
    entity_id: uuid.UUID | None = None,
    api_key_id: uuid.UUID | None = None,
) -> list[AuditEntry]:
    """Up to ``limit + 1`` entries after ``after``, oldest first (ids are time-ordered)."""
    query = select(AuditEntry)
    if entity_type:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        query = query.where(AuditEntry.entity_id == entity_id)
    if api_key_id:
        query = query.where(AuditEntry.api_key_id == api_key_id)
    return await rows_after(session, query, AuditEntry.id, after=after, limit=limit)
