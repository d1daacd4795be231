"""The notification log's state: writing notifications for events, claiming due ones
for the mail pump, and recording what the SMTP server answered.

Sending is at least once and never repeated once recorded: a notification is
claimed with a lease (``claimed_until``); after the server's 250 one UPDATE
marks it ``sent``. Only a crash between that 250 and that statement (one round
trip to the database, about a millisecond on a local PostgreSQL) can send it
twice, with the same ``Message-ID``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import insert_for
from shared.ids import uuid7
from shared.models import (
    Agreement,
    AgreementParty,
    Contact,
    FocalPoint,
    Notification,
    NotificationOptOut,
    NotificationSubscription,
    OutboxEvent,
)
from shared.notifications.rules import (
    ALL_SCOPE,
    REMINDER_TYPES,
    Notice,
    agreement_scope,
    describe,
    retry_at,
    send_after,
    subscription_scope,
)
from shared.settings import Settings
from shared.statements import run_statement
from shared.webhooks.rules import event_matches

ERROR_LIMIT = 1000


def _agreement_of(event: OutboxEvent) -> uuid.UUID | None:
    if event.aggregate_type == "agreement":
        return event.aggregate_id
    value = (event.data or {}).get("agreement_id")
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class _Recipient:
    contact_id: uuid.UUID
    scope: str
    delivery: str
    subscription_id: uuid.UUID | None


# The subscriptions that may hear of events of these agreements: built once.
_SUBSCRIPTIONS_OF = (
    select(
        NotificationSubscription.id,
        NotificationSubscription.contact_id,
        NotificationSubscription.agreement_id,
        NotificationSubscription.organization_id,
        NotificationSubscription.event_types,
        NotificationSubscription.delivery,
    )
    .where(
        or_(
            NotificationSubscription.agreement_id.is_(None),
            NotificationSubscription.agreement_id.in_(bindparam("agreements", expanding=True)),
        )
    )
    .order_by(NotificationSubscription.id)
)


@dataclass
class _Audience:
    """What the events of one batch need to find their recipients, read once for all."""

    subscriptions: list[Any]
    parties: dict[uuid.UUID, set[uuid.UUID]]
    focal_points: dict[uuid.UUID, list[uuid.UUID]]

    @classmethod
    async def read(
        cls, session: AsyncSession, events: list[tuple[OutboxEvent, uuid.UUID | None]]
    ) -> _Audience:
        agreements = {agreement_id for _, agreement_id in events if agreement_id is not None}
        subscriptions = list(
            await run_statement(session, _SUBSCRIPTIONS_OF, {"agreements": list(agreements)})
        )
        parties: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        if agreements and any(row.organization_id is not None for row in subscriptions):
            for agreement_id, organization_id in await session.execute(
                select(AgreementParty.agreement_id, AgreementParty.organization_id).where(
                    AgreementParty.agreement_id.in_(agreements)
                )
            ):
                parties[agreement_id].add(organization_id)
        reminded = {
            agreement_id
            for event, agreement_id in events
            if event.type in REMINDER_TYPES and agreement_id is not None
        }
        focal_points: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        if reminded:
            for agreement_id, contact_id in await session.execute(
                select(FocalPoint.agreement_id, FocalPoint.contact_id)
                .where(FocalPoint.agreement_id.in_(reminded))
                .distinct()
            ):
                focal_points[agreement_id].append(contact_id)
        for contacts in focal_points.values():
            contacts.sort()
        return cls(subscriptions, parties, focal_points)

    def recipients(self, event: OutboxEvent, agreement_id: uuid.UUID | None) -> list[_Recipient]:
        """Who hears of ``event``: matching subscriptions, then default focal points."""
        parties = set(self.parties.get(agreement_id, ())) if agreement_id is not None else set()
        if event.aggregate_type == "organization":
            parties.add(event.aggregate_id)
        recipients = [
            _Recipient(
                subscription.contact_id,
                subscription_scope(subscription.id),
                subscription.delivery,
                subscription.id,
            )
            for subscription in self.subscriptions
            if subscription.agreement_id in (None, agreement_id)
            and event_matches(event.type, subscription.event_types)
            and (subscription.organization_id is None or subscription.organization_id in parties)
        ]
        if event.type in REMINDER_TYPES and agreement_id is not None:
            recipients += [
                _Recipient(contact_id, agreement_scope(agreement_id), "immediate", None)
                for contact_id in self.focal_points.get(agreement_id, ())
            ]
        return recipients


async def _opted_out(
    session: AsyncSession, contact_ids: set[uuid.UUID]
) -> dict[uuid.UUID, set[str]]:
    if not contact_ids:
        return {}
    rows = await session.execute(
        select(NotificationOptOut.contact_id, NotificationOptOut.scope).where(
            NotificationOptOut.contact_id.in_(contact_ids)
        )
    )
    scopes: dict[uuid.UUID, set[str]] = defaultdict(set)
    for contact_id, scope in rows:
        scopes[contact_id].add(scope)
    return scopes


async def notify_events(
    session: AsyncSession, events: list[OutboxEvent], settings: Settings, *, now: dt.datetime
) -> int:
    """Write the notifications of these events (idempotent per event and contact);
    the number of rows offered (a replay offers them again and writes none).

    Subscriptions, parties, focal points, opt-outs and agreement references
    are read once for all the events, a few queries whatever their number.
    """
    about = [(event, _agreement_of(event)) for event in events]
    audience = await _Audience.read(session, about)
    heard = [
        (event, agreement_id, recipients)
        for event, agreement_id in about
        if (recipients := audience.recipients(event, agreement_id))
    ]
    if not heard:
        return 0
    opted_out = await _opted_out(
        session, {recipient.contact_id for _, _, recipients in heard for recipient in recipients}
    )
    agreements = {agreement_id for _, agreement_id, _ in heard if agreement_id is not None}
    references: dict[uuid.UUID, str] = {}
    if agreements:
        references = dict(
            (
                await session.execute(
                    select(Agreement.id, Agreement.reference).where(Agreement.id.in_(agreements))
                )
            ).all()
        )
    rows: list[dict[str, Any]] = []
    for event, agreement_id, recipients in heard:
        notice = describe(
            event.type,
            event.data or {},
            agreement_reference=references.get(agreement_id) if agreement_id else None,
            public_url=settings.public_url,
        )
        seen: set[uuid.UUID] = set()
        for recipient in recipients:
            scopes = opted_out.get(recipient.contact_id, set())
            if recipient.contact_id in seen or ALL_SCOPE in scopes or recipient.scope in scopes:
                continue
            seen.add(recipient.contact_id)
            rows.append(
                {
                    "id": uuid7(),
                    "event_id": event.id,
                    "event_type": event.type,
                    "contact_id": recipient.contact_id,
                    "subscription_id": recipient.subscription_id,
                    "agreement_id": agreement_id,
                    "scope": recipient.scope,
                    "delivery": recipient.delivery,
                    "subject": notice.subject[:500],
                    "notice": asdict(notice),
                    "status": "pending" if settings.smtp_url else "held",
                    "send_after": send_after(
                        recipient.delivery, now, digest_hour_utc=settings.digest_hour_utc
                    ),
                    "attempts": 0,
                    "created_at": now,
                }
            )
    if not rows:
        return 0
    statement = insert_for(session)(Notification).on_conflict_do_nothing(
        index_elements=["event_id", "contact_id"]
    )
    await session.execute(statement, rows)
    return len(rows)


async def release_held(session: AsyncSession) -> int:
    """Once SMTP is configured, what was held becomes due."""
    result = await session.execute(
        update(Notification).where(Notification.status == "held").values(status="pending")
    )
    return result.rowcount or 0


@dataclass(frozen=True)
class Recipient:
    contact_id: uuid.UUID
    name: str
    email: str
    languages: list[str]


@dataclass(frozen=True)
class MailJob:
    """One email to send: one notification, or a contact's digest of several."""

    notification_ids: list[uuid.UUID]
    recipient: Recipient
    notices: list[Notice]
    digest: bool
    first_created_at: dt.datetime


def _due(now: dt.datetime) -> Any:
    return and_(
        Notification.status == "pending",
        Notification.send_after <= now,
        or_(Notification.claimed_until.is_(None), Notification.claimed_until < now),
    )


async def claim_due(
    session: AsyncSession, *, now: dt.datetime, lease: dt.timedelta, limit: int
) -> list[MailJob]:
    """Lease up to ``limit`` due notifications (a digest counts once) and group them.

    The UPDATE re-checks the lease, so when two workers race for a row the one
    whose statement runs second (it waits on the row lock) finds it leased and
    leaves it.
    """
    immediate = (
        select(Notification.id)
        .where(_due(now), Notification.delivery == "immediate")
        .order_by(Notification.send_after, Notification.id)
        .limit(limit)
    )
    digest_contacts = (
        select(Notification.contact_id)
        .where(_due(now), Notification.delivery == "daily_digest")
        .distinct()
        .limit(limit)
    )
    claimed = (
        await session.execute(
            update(Notification)
            .where(
                _due(now),
                or_(
                    Notification.id.in_(immediate.scalar_subquery()),
                    and_(
                        Notification.delivery == "daily_digest",
                        Notification.contact_id.in_(digest_contacts.scalar_subquery()),
                    ),
                ),
            )
            .values(claimed_until=now + lease)
            .returning(
                Notification.id,
                Notification.contact_id,
                Notification.delivery,
                Notification.notice,
                Notification.created_at,
            )
        )
    ).all()
    if not claimed:
        return []
    contacts = {
        contact.id: contact
        for contact in (
            await session.scalars(
                select(Contact).where(Contact.id.in_({row.contact_id for row in claimed}))
            )
        ).all()
    }
    jobs: list[MailJob] = []
    digests: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in sorted(claimed, key=lambda row: (row.created_at, row.id)):
        contact = contacts.get(row.contact_id)
        if contact is None:
            continue
        if row.delivery == "daily_digest":
            digests[row.contact_id].append(row)
            continue
        jobs.append(
            MailJob([row.id], _recipient(contact), [Notice(**row.notice)], False, row.created_at)
        )
    for contact_id, rows in digests.items():
        jobs.append(
            MailJob(
                [row.id for row in rows],
                _recipient(contacts[contact_id]),
                [Notice(**row.notice) for row in rows],
                True,
                rows[0].created_at,
            )
        )
    return jobs


def _recipient(contact: Contact) -> Recipient:
    return Recipient(contact.id, contact.name, contact.email, list(contact.languages or []))


async def record_sent(
    session: AsyncSession, ids: list[uuid.UUID], *, message_id: str, now: dt.datetime
) -> None:
    """One statement: from here on these notifications are never sent again."""
    await session.execute(
        update(Notification)
        .where(Notification.id.in_(ids))
        .values(
            status="sent", sent_at=now, message_id=message_id, claimed_until=None, last_error=None
        )
    )


async def record_failure(
    session: AsyncSession,
    ids: list[uuid.UUID],
    *,
    error: str,
    now: dt.datetime,
    schedule: list[int],
) -> None:
    """Count a failed attempt; try again later on the schedule, or give up (``failed``)."""
    rows = (
        await session.execute(
            select(Notification.id, Notification.attempts).where(Notification.id.in_(ids))
        )
    ).all()
    for notification_id, attempts in rows:
        attempts += 1
        again = retry_at(now, attempts, schedule)
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_error": error[:ERROR_LIMIT],
            "claimed_until": None,
        }
        if again is None:
            values["status"] = "failed"
        else:
            values["send_after"] = again
        await session.execute(
            update(Notification).where(Notification.id == notification_id).values(**values)
        )
