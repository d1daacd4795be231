"""Engagement use cases: the ceremonies, visits and meetings that steer an agreement."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shared.agreements.visibility import under_visible_agreements, visible_to
from shared.documents.service import delete_documents_of
from shared.engagements.schemas import (
    EngagementCreate,
    EngagementUpdate,
    as_public,
    check_dates,
)
from shared.errors import Conflict, InvalidReference
from shared.events import Actor, Aggregate, record_change
from shared.ids import uuid7
from shared.models import Agreement, Engagement, EngagementParticipant, Milestone, Organization
from shared.rows import one_or_404, rows_after


def _aggregate(engagement: Engagement) -> Aggregate:
    return Aggregate("agreement", engagement.agreement_id)


def _visible(query: Select[Any], organization_id: uuid.UUID | None) -> Select[Any]:
    return under_visible_agreements(query, Engagement.agreement_id, organization_id)


async def get_engagement(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None = None,
    for_update: bool = False,
) -> Engagement:
    """The engagement with its participants; 404 also when the caller may not see it."""
    query = _visible(
        select(Engagement)
        .options(selectinload(Engagement.participants))
        .where(Engagement.id == engagement_id),
        organization_id,
    )
    missing = f"Engagement {engagement_id} does not exist."
    return await one_or_404(
        session, query, missing=missing, lock=Engagement if for_update else None
    )


async def list_engagements(
    session: AsyncSession,
    *,
    after: uuid.UUID | None,
    limit: int,
    organization_scope: uuid.UUID | None,
    agreement_id: uuid.UUID | None = None,
    kind: str | None = None,
    organization_id: uuid.UUID | None = None,
    starts_after: dt.date | None = None,
    starts_before: dt.date | None = None,
) -> list[Engagement]:
    """Up to ``limit + 1`` engagements after ``after``, in creation order."""
    query = _visible(
        select(Engagement).options(selectinload(Engagement.participants)), organization_scope
    )
    if agreement_id:
        query = query.where(Engagement.agreement_id == agreement_id)
    if kind:
        query = query.where(Engagement.kind == kind)
    if organization_id:
        query = query.where(
            or_(
                Engagement.host_organization_id == organization_id,
                exists().where(
                    EngagementParticipant.engagement_id == Engagement.id,
                    EngagementParticipant.organization_id == organization_id,
                ),
            )
        )
    if starts_after:
        query = query.where(Engagement.starts_on > starts_after)
    if starts_before:
        query = query.where(Engagement.starts_on < starts_before)
    return await rows_after(session, query, Engagement.id, after=after, limit=limit)


async def _check_agreement(
    session: AsyncSession, agreement_id: uuid.UUID, organization_id: uuid.UUID | None
) -> None:
    query = select(Agreement.id).where(Agreement.id == agreement_id)
    condition = visible_to(organization_id)
    if condition is not None:
        query = query.where(condition)
    if await session.scalar(query) is None:
        raise InvalidReference(
            f"No agreement with id {agreement_id}.",
            errors=[{"loc": ["body", "agreement_id"], "msg": "no such agreement"}],
        )


async def _check_organizations(
    session: AsyncSession,
    *,
    host_organization_id: uuid.UUID | None,
    participant_organization_ids: list[uuid.UUID],
) -> None:
    wanted = set(participant_organization_ids)
    if host_organization_id is not None:
        wanted.add(host_organization_id)
    if not wanted:
        return
    found = set(
        (await session.scalars(select(Organization.id).where(Organization.id.in_(wanted)))).all()
    )
    errors: list[dict[str, Any]] = []
    if host_organization_id is not None and host_organization_id not in found:
        errors.append({"loc": ["body", "host_organization_id"], "msg": "no such organization"})
    errors.extend(
        {"loc": ["body", "participant_organization_ids", index], "msg": "no such organization"}
        for index, organization_id in enumerate(participant_organization_ids)
        if organization_id not in found
    )
    if errors:
        missing = sorted(str(organization_id) for organization_id in wanted - found)
        raise InvalidReference(f"No organization with id {', '.join(missing)}.", errors=errors)


def _participant_rows(organization_ids: list[uuid.UUID]) -> list[EngagementParticipant]:
    return [
        EngagementParticipant(organization_id=organization_id, position=index)
        for index, organization_id in enumerate(organization_ids)
    ]


async def create_engagement(
    session: AsyncSession,
    *,
    actor: Actor,
    payload: EngagementCreate,
    organization_scope: uuid.UUID | None,
) -> Engagement:
    await _check_agreement(session, payload.agreement_id, organization_scope)
    await _check_organizations(
        session,
        host_organization_id=payload.host_organization_id,
        participant_organization_ids=payload.participant_organization_ids,
    )
    engagement = Engagement(
        id=uuid7(),
        agreement_id=payload.agreement_id,
        kind=payload.kind,
        title=payload.title,
        starts_on=payload.starts_on,
        ends_on=payload.ends_on,
        location=payload.location,
        host_organization_id=payload.host_organization_id,
        summary=payload.summary,
        outcomes=list(payload.outcomes),
        participants=_participant_rows(payload.participant_organization_ids),
    )
    session.add(engagement)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="engagement.recorded",
        aggregate=_aggregate(engagement),
        entity_id=engagement.id,
        before=None,
        after=as_public(engagement),
    )
    return engagement


async def update_engagement(
    session: AsyncSession, *, actor: Actor, engagement: Engagement, payload: EngagementUpdate
) -> Engagement:
    changes = payload.changes()
    if not changes:
        return engagement
    try:
        check_dates(
            changes.get("starts_on", engagement.starts_on),
            changes.get("ends_on", engagement.ends_on),
        )
    except ValueError as exc:
        raise InvalidReference(
            str(exc), errors=[{"loc": ["body", "ends_on"], "msg": str(exc)}]
        ) from exc
    await _check_organizations(
        session,
        host_organization_id=changes.get("host_organization_id"),
        participant_organization_ids=payload.participant_organization_ids or [],
    )
    before = as_public(engagement)
    if payload.participant_organization_ids is not None:
        # Old rows go first (same primary keys may come back); flushed before
        # any column changes so that the version moves only once.
        engagement.participants.clear()
        await session.flush()
        engagement.participants.extend(_participant_rows(payload.participant_organization_ids))
    for field in ("kind", "title", "starts_on", "ends_on", "location", "summary"):
        if field in changes:
            setattr(engagement, field, changes[field])
    if "host_organization_id" in changes:
        engagement.host_organization_id = changes["host_organization_id"]
    if "outcomes" in changes:
        engagement.outcomes = list(changes["outcomes"])
    engagement.updated_at = dt.datetime.now(dt.UTC)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="engagement.updated",
        aggregate=_aggregate(engagement),
        entity_id=engagement.id,
        before=before,
        after=as_public(engagement),
    )
    return engagement


async def delete_engagement(session: AsyncSession, *, actor: Actor, engagement: Engagement) -> None:
    """Delete an engagement no milestone was decided at (409 otherwise)."""
    decided = await session.scalar(select(exists().where(Milestone.engagement_id == engagement.id)))
    if decided:
        raise Conflict(
            "Milestones were decided at this engagement; unlink them (engagement_id: null) "
            "or delete them first."
        )
    await delete_documents_of(session, actor=actor, owner_type="engagement", owner_id=engagement.id)
    before = as_public(engagement)
    await session.delete(engagement)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="engagement.deleted",
        aggregate=_aggregate(engagement),
        entity_id=engagement.id,
        before=before,
        after=None,
    )
