"""Milestone use cases: the dated deliverables of an initiative.

``overdue`` is never stored: it is computed from ``status``, ``due_on`` and
today, both in Python (the response) and in SQL (the ``overdue`` filter).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements.visibility import under_visible_agreements
from shared.clock import today
from shared.errors import InvalidReference, NotFound
from shared.events import Actor, Aggregate, record_change
from shared.ids import uuid7
from shared.lifecycle import MILESTONE_CLOSED_STATUSES
from shared.milestones.schemas import MilestoneCreate, MilestoneUpdate, as_public
from shared.models import Engagement, Initiative, Milestone
from shared.rendered import all_stored, milestone_with_overdue
from shared.rows import one_or_404, page_after


def overdue_condition(on: dt.date) -> ColumnElement[bool]:
    """The SQL form of :func:`shared.lifecycle.milestone_is_overdue` on day ``on``."""
    return and_(Milestone.status.not_in(MILESTONE_CLOSED_STATUSES), Milestone.due_on < on)


def _aggregate(milestone: Milestone) -> Aggregate:
    return Aggregate("agreement", milestone.agreement_id)


def _visible(query: Select[Any], organization_id: uuid.UUID | None) -> Select[Any]:
    return under_visible_agreements(query, Milestone.agreement_id, organization_id)


async def get_milestone(
    session: AsyncSession,
    milestone_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None = None,
    for_update: bool = False,
) -> Milestone:
    """The milestone; 404 also when the caller may not see its agreement."""
    query = _visible(select(Milestone).where(Milestone.id == milestone_id), organization_id)
    missing = f"Milestone {milestone_id} does not exist."
    return await one_or_404(session, query, missing=missing, lock=Milestone if for_update else None)


def _list_query(
    base: Select[Any],
    *,
    after: uuid.UUID | None,
    limit: int,
    organization_scope: uuid.UUID | None,
    initiative_id: uuid.UUID | None = None,
    agreement_id: uuid.UUID | None = None,
    engagement_id: uuid.UUID | None = None,
    status: str | None = None,
    overdue: bool | None = None,
    due_before: dt.date | None = None,
) -> Select[Any]:
    query = _visible(base, organization_scope)
    if initiative_id:
        query = query.where(Milestone.initiative_id == initiative_id)
    if agreement_id:
        query = query.where(Milestone.agreement_id == agreement_id)
    if engagement_id:
        query = query.where(Milestone.engagement_id == engagement_id)
    if status:
        query = query.where(Milestone.status == status)
    if overdue is not None:
        condition = overdue_condition(today())
        query = query.where(condition if overdue else not_(condition))
    if due_before:
        query = query.where(Milestone.due_on < due_before)
    return page_after(query, Milestone.id, after=after, limit=limit)


async def list_milestones(session: AsyncSession, **filters: Any) -> list[Milestone]:
    """Up to ``limit + 1`` milestones after ``after``, in creation order (filters
    of :func:`_list_query`)."""
    return list((await session.scalars(_list_query(select(Milestone), **filters))).all())


async def most_overdue_milestones(
    session: AsyncSession, *, organization_scope: uuid.UUID | None, limit: int
) -> list[Milestone]:
    """Up to ``limit + 1`` overdue milestones, the longest overdue first."""
    query = _visible(select(Milestone), organization_scope).where(overdue_condition(today()))
    query = query.order_by(Milestone.due_on, Milestone.id).limit(limit + 1)
    return list((await session.scalars(query)).all())


def _stored_columns() -> Select[Any]:
    return select(
        Milestone.id,
        Milestone.rendered,
        Milestone.version,
        overdue_condition(today()).label("overdue"),
    )


async def list_rendered_milestones(session: AsyncSession, **filters: Any) -> list[Any] | None:
    """:func:`list_milestones` as stored JSON with the day's ``overdue`` (pairs of
    id and JSON); None when one has none yet (list them on the spot)."""
    rows = (await session.execute(_list_query(_stored_columns(), **filters))).all()
    if all_stored(list(rows)) is None:
        return None
    return [(row.id, milestone_with_overdue(row.rendered, row.overdue)) for row in rows]


async def read_rendered_milestone(
    session: AsyncSession, milestone_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> tuple[str, int] | None:
    """The milestone's stored JSON with the day's ``overdue``, and its version;
    None when it has none yet; 404 also when the caller may not see it."""
    query = _visible(_stored_columns().where(Milestone.id == milestone_id), organization_id)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFound(f"Milestone {milestone_id} does not exist.")
    if row.rendered is None:
        return None
    return milestone_with_overdue(row.rendered, row.overdue), row.version


async def _check_engagement(
    session: AsyncSession, engagement_id: uuid.UUID | None, agreement_id: uuid.UUID
) -> None:
    if engagement_id is None:
        return
    found = await session.scalar(
        select(Engagement.id).where(
            Engagement.id == engagement_id, Engagement.agreement_id == agreement_id
        )
    )
    if found is None:
        raise InvalidReference(
            f"No engagement {engagement_id} under this milestone's agreement.",
            errors=[
                {"loc": ["body", "engagement_id"], "msg": "not an engagement of the agreement"}
            ],
        )


def _check_completed_on(completed_on: dt.date | None) -> None:
    if completed_on is not None and completed_on > today():
        raise InvalidReference(
            "completed_on cannot be in the future.",
            errors=[{"loc": ["body", "completed_on"], "msg": "in the future"}],
        )


async def create_milestone(
    session: AsyncSession, *, actor: Actor, initiative: Initiative, payload: MilestoneCreate
) -> Milestone:
    await _check_engagement(session, payload.engagement_id, initiative.agreement_id)
    _check_completed_on(payload.completed_on)
    completed_on = (payload.completed_on or today()) if payload.status == "done" else None
    milestone = Milestone(
        id=uuid7(),
        initiative_id=initiative.id,
        agreement_id=initiative.agreement_id,
        title=payload.title,
        due_on=payload.due_on,
        status=payload.status,
        completed_on=completed_on,
        weight=payload.weight,
        engagement_id=payload.engagement_id,
    )
    session.add(milestone)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="milestone.created",
        aggregate=_aggregate(milestone),
        entity_id=milestone.id,
        before=None,
        after=as_public(milestone),
    )
    return milestone


async def update_milestone(
    session: AsyncSession, *, actor: Actor, milestone: Milestone, payload: MilestoneUpdate
) -> Milestone:
    """Apply a PATCH; becoming done emits ``milestone.completed``, else ``milestone.updated``."""
    changes = payload.changes()
    if not changes:
        return milestone
    status = changes.get("status", milestone.status)
    if "completed_on" in changes and changes["completed_on"] is not None and status != "done":
        raise InvalidReference(
            "completed_on can be set only on a done milestone.",
            errors=[{"loc": ["body", "completed_on"], "msg": "the milestone is not done"}],
        )
    _check_completed_on(changes.get("completed_on"))
    if "engagement_id" in changes:
        await _check_engagement(session, changes["engagement_id"], milestone.agreement_id)
    before = as_public(milestone)
    previous = milestone.status
    for field in ("title", "due_on", "status", "weight", "engagement_id"):
        if field in changes:
            setattr(milestone, field, changes[field])
    if status == "done":
        milestone.completed_on = changes.get("completed_on") or milestone.completed_on or today()
    else:
        # Reopened (or never done): there is no completion date.
        milestone.completed_on = None
    milestone.updated_at = dt.datetime.now(dt.UTC)
    await session.flush()
    became_done = status == "done" and previous != "done"
    await record_change(
        session,
        actor=actor,
        event_type="milestone.completed" if became_done else "milestone.updated",
        aggregate=_aggregate(milestone),
        entity_id=milestone.id,
        before=before,
        after=as_public(milestone),
        extra={"previous_status": previous} if status != previous else None,
    )
    return milestone


async def delete_milestone(session: AsyncSession, *, actor: Actor, milestone: Milestone) -> None:
    before = as_public(milestone)
    await session.delete(milestone)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="milestone.deleted",
        aggregate=_aggregate(milestone),
        entity_id=milestone.id,
        before=before,
        after=None,
    )
