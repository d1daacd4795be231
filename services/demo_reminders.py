"""The reference story, continued (SPEC 16): reminders that reach people.

GEI's focal point gets a daily digest of the MoU's milestones and reports, and
a read-only key of STZA (the organization-bound view a liaison officer has)
owns a calendar feed of the MoU's deadlines.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.api_keys.service import create_api_key
from shared.calendar import service as calendar
from shared.calendar.schemas import CalendarFeedCreate
from shared.events import Actor
from shared.models import Agreement, Contact, FocalPoint, Organization
from shared.notifications import subscriptions
from shared.notifications.schemas import SubscriptionCreate


async def load_reminders(
    session: AsyncSession, *, actor: Actor, mou: Agreement, stza: Organization, gei: Organization
) -> str:
    """Add a notification subscription and a calendar feed; returns what it added, in words."""
    contact_id = await session.scalar(
        select(FocalPoint.contact_id)
        .join(Contact, Contact.id == FocalPoint.contact_id)
        .where(FocalPoint.agreement_id == mou.id, Contact.organization_id == gei.id)
        .limit(1)
    )
    added = []
    if contact_id is not None:
        await subscriptions.create_subscription(
            session,
            actor=actor,
            payload=SubscriptionCreate(
                contact_id=contact_id,
                event_types=["milestone.", "report."],
                agreement_id=mou.id,
                delivery="daily_digest",
            ),
            organization_scope=None,
        )
        added.append("a daily digest for GEI's focal point")
    key, _clear = await create_api_key(
        session,
        actor=actor,
        name="STZA liaison calendar (demo)",
        scopes=["read"],
        organization_id=stza.id,
    )
    feed_actor = Actor(api_key_id=key.id, request_id=actor.request_id)
    _feed, token = await calendar.create_feed(
        session,
        actor=feed_actor,
        payload=CalendarFeedCreate(name="STZA-GEI MoU deadlines", agreement_id=mou.id),
        organization_scope=stza.id,
    )
    added.append(f"a calendar feed at {calendar.feed_path(token)}")
    return " and ".join(added)
