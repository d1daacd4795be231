"""Routes of `/v1/audit-log` (admin only, read only: the log is append-only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.api.deps import Admin, SessionDep
from services.api.http import CursorQuery, LimitQuery, Page, decode_cursor, paginate
from services.api.problems import problem_responses
from shared.audit import service
from shared.audit.schemas import AuditEntryPublic

router = APIRouter(prefix="/v1/audit-log", tags=["audit"])


@router.get("", responses=problem_responses(400, 401, 403, 422))
async def list_audit_log(
    session: SessionDep,
    principal: Admin,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    entity_type: Annotated[
        str | None,
        Query(
            max_length=60,
            description="Only changes to this kind of resource, e.g. `agreement`, `api_key`.",
        ),
    ] = None,
    entity_id: Annotated[
        uuid.UUID | None, Query(description="Only changes to this resource.")
    ] = None,
    api_key_id: Annotated[
        uuid.UUID | None, Query(description="Only changes made with this api key.")
    ] = None,
) -> Page[AuditEntryPublic]:
    """The audit trail, oldest first: one entry per change, written in the same
    transaction as the change, with the api key, the request id and the
    resource before and after. Entries are never changed or deleted.
    """
    rows = await service.list_audit_entries(
        session,
        after=decode_cursor(cursor),
        limit=limit,
        entity_type=entity_type,
        entity_id=entity_id,
        api_key_id=api_key_id,
    )
    return paginate(rows, limit, AuditEntryPublic)
