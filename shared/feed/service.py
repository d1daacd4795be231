"""Reading the event feed: committed events in feed-position order."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements.visibility import visible_to
from shared.errors import Conflict, NotFound
from shared.models import Agreement, OutboxEvent, OutboxEventAudience, ResearchCollaboration
from shared.research_collaborations.visibility import visible_to as collaborations_visible_to


def _visible_events(organization_id: uuid.UUID) -> ColumnElement[bool]:
    """Events an organization-bound key may read.

    Those stored with its organization when written (so the history and the
    ``deleted`` event of what it could see stay in its feed), and the events
    of agreements and stand-alone collaborations it is part of now (so a party
    added later reads their history too).
    """
    agreements = visible_to(organization_id)
    collaborations = collaborations_visible_to(organization_id)
    assert agreements is not None and collaborations is not None
    return or_(
        OutboxEvent.id.in_(
            select(OutboxEventAudience.event_id).where(
                OutboxEventAudience.organization_id == organization_id
            )
        ),
        and_(
            OutboxEvent.aggregate_type == "agreement",
            OutboxEvent.aggregate_id.in_(select(Agreement.id).where(agreements)),
        ),
        and_(
            OutboxEvent.aggregate_type == "research_collaboration",
            OutboxEvent.aggregate_id.in_(select(ResearchCollaboration.id).where(collaborations)),
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
