"""Reading the event feed: committed events in feed-position order."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements.visibility import visible_to
from shared.errors import Conflict, NotFound
from shared.models import Agreement, OutboxEvent


def _visible_events(organization_id: uuid.UUID) -> ColumnElement[bool]:
    """Events of agreements the organization is party to, and of the organization itself."""
    condition = visible_to(organization_id)
    assert condition is not None
    return or_(
        and_(
            OutboxEvent.aggregate_type == "agreement",
            OutboxEvent.aggregate_id.in_(select(Agreement.id).where(condition)),
        ),
        and_(
            OutboxEvent.aggregate_type == "organization",
            OutboxEvent.aggregate_id == organization_id,
        ),
    )


async def position_of(session: AsyncSession, event_id: uuid.UUID) -> int:
    """The feed position of an event; 404 if unknown, 409 if not in the feed yet."""
    row = (
        await session.execute(
            select(OutboxEvent.id, OutboxEvent.position).where(OutboxEvent.id == event_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"There is no event {event_id}.")
    if row.position is None:
        raise Conflict(f"Event {event_id} is committed but not in the feed yet; retry in a moment.")
    return row.position


async def list_events(
    session: AsyncSession,
    *,
    after: uuid.UUID | None,
    type_prefix: str | None,
    limit: int,
    organization_scope: uuid.UUID | None,
) -> list[OutboxEvent]:
    """Up to ``limit + 1`` events after the event ``after``, in feed order."""
    query = select(OutboxEvent).where(OutboxEvent.position.is_not(None))
    if after is not None:
        query = query.where(OutboxEvent.position > await position_of(session, after))
    if type_prefix:
        query = query.where(OutboxEvent.type.startswith(type_prefix, autoescape=True))
    if organization_scope is not None:
        query = query.where(_visible_events(organization_scope))
    query = query.order_by(OutboxEvent.position).limit(limit + 1)
    return list((await session.scalars(query)).all())
