"""Calendar feed use cases: create, list and delete feeds, and gather what a feed shows."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements.visibility import visible_to
from shared.calendar.ics import CalendarItem
from shared.calendar.schemas import CalendarFeedCreate
from shared.dashboard.links import agreement_url
from shared.errors import InvalidReference, NotFound
from shared.events import Actor, record_audit
from shared.ids import uuid7
from shared.models import (
    Agreement,
    AgreementParty,
    ApiKey,
    CalendarFeed,
    Engagement,
    Milestone,
    Organization,
    Report,
)
from shared.rows import one_or_404, rows_after
from shared.security import hash_api_key

TOKEN_PREFIX = "cal_"
# Past entries stay in the feed this long, so a calendar keeps recent history.
HISTORY = dt.timedelta(days=365)
CLOSED_AGREEMENT_STATUSES = ("terminated", "cancelled")


def feed_path(token: str) -> str:
    return f"/calendar/{token}.ics"


async def create_feed(
    session: AsyncSession,
    *,
    actor: Actor,
    payload: CalendarFeedCreate,
    organization_scope: uuid.UUID | None,
) -> tuple[CalendarFeed, str]:
    """A new feed and its token (returned once; only its hash is kept)."""
    if payload.agreement_id is not None:
        await _check_agreement_visible(session, payload.agreement_id, organization_scope)
    if (
        payload.organization_id is not None
        and await session.get(Organization, payload.organization_id) is None
    ):
        raise InvalidReference(f"Organization {payload.organization_id} does not exist.")
    if actor.api_key_id is None:
        raise InvalidReference("A calendar feed is created by an api key.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    feed = CalendarFeed(
        id=uuid7(),
        name=payload.name,
        agreement_id=payload.agreement_id,
        organization_id=payload.organization_id,
        include=list(payload.include),
        token_hash=hash_api_key(token),
        api_key_id=actor.api_key_id,
    )
    session.add(feed)
    await session.flush()
    record_audit(
        session,
        actor=actor,
        action="create",
        entity_type="calendar_feed",
        entity_id=feed.id,
        before=None,
        after=_audited(feed),
    )
    return feed, token


def _audited(feed: CalendarFeed) -> dict[str, Any]:
    # Never the token: the audit log is read by admins, the URL is a credential.
    return {
        "name": feed.name,
        "agreement_id": str(feed.agreement_id) if feed.agreement_id else None,
        "organization_id": str(feed.organization_id) if feed.organization_id else None,
        "include": feed.include,
        "api_key_id": str(feed.api_key_id),
    }


async def _check_agreement_visible(
    session: AsyncSession, agreement_id: uuid.UUID, organization_scope: uuid.UUID | None
) -> None:
    query = select(Agreement.id).where(Agreement.id == agreement_id)
    condition = visible_to(organization_scope)
    if condition is not None:
        query = query.where(condition)
    if (await session.execute(query)).first() is None:
        raise InvalidReference(f"Agreement {agreement_id} does not exist.")


def _owned(query: Select[Any], *, api_key_id: uuid.UUID, is_admin: bool) -> Select[Any]:
    """Feeds are personal: a key sees the feeds it created; an admin sees all."""
    return query if is_admin else query.where(CalendarFeed.api_key_id == api_key_id)


async def list_feeds(
    session: AsyncSession,
    *,
    api_key_id: uuid.UUID,
    is_admin: bool,
    after: uuid.UUID | None,
    limit: int,
) -> list[CalendarFeed]:
    query = _owned(select(CalendarFeed), api_key_id=api_key_id, is_admin=is_admin)
    return await rows_after(session, query, CalendarFeed.id, after=after, limit=limit)


async def get_feed(
    session: AsyncSession, feed_id: uuid.UUID, *, api_key_id: uuid.UUID, is_admin: bool
) -> CalendarFeed:
    query = _owned(
        select(CalendarFeed).where(CalendarFeed.id == feed_id),
        api_key_id=api_key_id,
        is_admin=is_admin,
    )
    return await one_or_404(session, query, missing=f"Calendar feed {feed_id} does not exist.")


async def delete_feed(session: AsyncSession, *, actor: Actor, feed: CalendarFeed) -> None:
    record_audit(
        session,
        actor=actor,
        action="delete",
        entity_type="calendar_feed",
        entity_id=feed.id,
        before=_audited(feed),
        after=None,
    )
    await session.delete(feed)
    await session.flush()


async def feed_for_token(
    session: AsyncSession, token: str
) -> tuple[CalendarFeed, uuid.UUID | None]:
    """The feed behind a secret URL and the organization its creating key is bound to.

    404 for an unknown token, a deleted feed, or a feed whose key was deleted
    (the foreign key cascades, so the feed row is gone with the key).
    """
    row = (
        await session.execute(
            select(CalendarFeed, ApiKey.organization_id)
            .join(ApiKey, ApiKey.id == CalendarFeed.api_key_id)
            .where(CalendarFeed.token_hash == hash_api_key(token))
        )
    ).one_or_none()
    if row is None:
        raise NotFound("This calendar feed does not exist.")
    return row[0], row[1]


def _scoped(
    query: Select[Any], feed: CalendarFeed, key_organization: uuid.UUID | None
) -> Select[Any]:
    """Limit a query already joined to ``Agreement`` to the feed's scope and its key's view."""
    condition = visible_to(key_organization)
    if condition is not None:
        query = query.where(condition)
    if feed.agreement_id is not None:
        query = query.where(Agreement.id == feed.agreement_id)
    if feed.organization_id is not None:
        query = query.where(
            select(AgreementParty.agreement_id)
            .where(
                AgreementParty.agreement_id == Agreement.id,
                AgreementParty.organization_id == feed.organization_id,
            )
            .exists()
        )
    return query


@dataclass(frozen=True)
class _Source:
    """One kind of entry: the rows it shows (joined to their agreement) and how each reads."""

    model: Any
    since: Callable[[dt.date], ColumnElement[bool]]
    item: Callable[[Any, str, str], CalendarItem]

    def query(self, since: dt.date) -> Select[Any]:
        query = select(self.model, Agreement.id, Agreement.reference)
        if self.model is not Agreement:
            query = query.join(Agreement, Agreement.id == self.model.agreement_id)
        return query.where(self.since(since))


async def feed_items(
    session: AsyncSession,
    feed: CalendarFeed,
    *,
    key_organization: uuid.UUID | None,
    today: dt.date,
    public_url: str,
) -> list[CalendarItem]:
    """Every entry the feed shows, oldest first: what its creating key may see, in scope."""
    since = today - HISTORY
    items: list[CalendarItem] = []
    for kind, source in SOURCES.items():
        if kind not in feed.include:
            continue
        query = _scoped(source.query(since), feed, key_organization)
        for entity, agreement_id, reference in (await session.execute(query)).all():
            items.append(source.item(entity, reference, agreement_url(public_url, agreement_id)))
    return sorted(items, key=lambda item: (item.starts_on, item.uid))


def _milestone(milestone: Milestone, reference: str, link: str) -> CalendarItem:
    return CalendarItem(
        uid=f"milestone-{milestone.id}@accords",
        sequence=milestone.version - 1,
        summary=f"Milestone due: {milestone.title} ({reference})",
        description=f"Milestone of {reference}, status {milestone.status}.\n{link}",
        starts_on=milestone.due_on,
        cancelled=milestone.status == "cancelled",
        url=link,
        modified_at=milestone.updated_at,
    )


def _engagement(engagement: Engagement, reference: str, link: str) -> CalendarItem:
    where = f" in {engagement.location}" if engagement.location else ""
    return CalendarItem(
        uid=f"engagement-{engagement.id}@accords",
        sequence=engagement.version - 1,
        summary=f"{engagement.title} ({reference})",
        description=(
            f"{engagement.kind.replace('_', ' ').capitalize()}{where}, under {reference}.\n{link}"
        ),
        starts_on=engagement.starts_on,
        ends_on=engagement.ends_on,
        url=link,
        modified_at=engagement.updated_at,
    )


def _expiry(agreement: Agreement, reference: str, link: str) -> CalendarItem:
    return CalendarItem(
        uid=f"agreement-expiry-{agreement.id}@accords",
        sequence=agreement.version - 1,
        summary=f"Expires: {reference} {agreement.title}",
        description=f"{reference} expires on {agreement.expires_on}.\n{link}",
        starts_on=agreement.expires_on,
        cancelled=agreement.status in CLOSED_AGREEMENT_STATUSES,
        url=link,
        modified_at=agreement.updated_at,
    )


def _report(report: Report, reference: str, link: str) -> CalendarItem:
    period = f"{report.period_start} to {report.period_end}"
    return CalendarItem(
        uid=f"report-{report.id}@accords",
        sequence=report.version - 1,
        summary=f"Progress report due: {reference} ({period})",
        description=f"Report for {period} under {reference}, status {report.status}.\n{link}",
        starts_on=report.due_on,
        url=link,
        modified_at=report.updated_at,
    )


# What ``include`` may name, each with its rows: those still ahead, or at most HISTORY ago.
SOURCES: dict[str, _Source] = {
    "milestones": _Source(Milestone, lambda since: Milestone.due_on >= since, _milestone),
    "engagements": _Source(
        Engagement,
        lambda since: or_(Engagement.starts_on >= since, Engagement.ends_on >= since),
        _engagement,
    ),
    "expiries": _Source(
        Agreement,
        lambda since: and_(Agreement.expires_on.is_not(None), Agreement.expires_on >= since),
        _expiry,
    ),
    "reports": _Source(Report, lambda since: Report.due_on >= since, _report),
}
