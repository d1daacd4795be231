"""`GET /v1/events`: the pull feed of events, for catch-up after downtime."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.api.deps import Reader, SessionDep
from services.api.http import CursorQuery, LimitQuery, Page, decode_cursor, paginate
from services.api.problems import problem_responses
from shared.feed import service
from shared.feed.schemas import EventPublic

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.get("", responses=problem_responses(400, 401, 403, 404, 409, 422))
async def list_events(
    session: SessionDep,
    principal: Reader,
    after: Annotated[
        uuid.UUID | None,
        Query(description="The id of the last event you have seen; the feed continues after it."),
    ] = None,
    type: Annotated[
        str | None,
        Query(
            max_length=80,
            description="Only events whose type starts with this, e.g. `agreement.` or "
            "`milestone.completed`.",
        ),
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[EventPublic]:
    """Events in commit order, oldest first.

    Page with `after=<id of the last event seen>` (or `cursor=<next_cursor>`,
    the same thing): a reader doing so never misses an event, even one whose
    transaction committed after a later one was served, because an event
    enters the feed only once committed. An `after` event not yet in the feed
    answers 409 (retry shortly); an unknown one 404. A key bound to an
    organization sees the events of its organization, of the agreements it is
    party to and of the stand-alone research collaborations it takes part in,
    including their `deleted` events and the history of one it stopped seeing.
    """
    start = decode_cursor(cursor) if cursor is not None else after
    rows = await service.list_events(
        session,
        after=start,
        type_prefix=type,
        limit=limit,
        organization_scope=principal.organization_id,
    )
    return paginate(rows, limit, EventPublic)
