"""Use cases of notification subscriptions, the notification log and unsubscribing."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements.visibility import visible_to
from shared.contacts.service import get_contact, visible_contacts
from shared.db import insert_for
from shared.errors import InvalidReference, NotFound
from shared.events import Actor, record_audit
from shared.ids import uuid7
from shared.models import (
    Agreement,
    Contact,
    Notification,
    NotificationOptOut,
    NotificationSubscription,
    Organization,
)
from shared.notifications.rules import subscription_scope
from shared.notifications.schemas import SubscriptionCreate, SubscriptionPublic, SubscriptionUpdate


def _audited(subscription: NotificationSubscription) -> dict[str, Any]:
    return SubscriptionPublic.model_validate(subscription).model_dump(mode="json")


async def _check_references(
    session: AsyncSession, payload: SubscriptionCreate, organization_scope: uuid.UUID | None
) -> None:
    try:
        await get_contact(session, payload.contact_id, organization_scope=organization_scope)
    except NotFound as exc:
        raise InvalidReference(f"Contact {payload.contact_id} does not exist.") from exc
    if payload.agreement_id is not None:
        query = select(Agreement.id).where(Agreement.id == payload.agreement_id)
        condition = visible_to(organization_scope)
        if condition is not None:
            query = query.where(condition)
        if (await session.execute(query)).first() is None:
            raise InvalidReference(f"Agreement {payload.agreement_id} does not exist.")
    if (
        payload.organization_id is not None
        and await session.get(Organization, payload.organization_id) is None
    ):
        raise InvalidReference(f"Organization {payload.organization_id} does not exist.")


async def create_subscription(
    session: AsyncSession,
    *,
    actor: Actor,
    payload: SubscriptionCreate,
    organization_scope: uuid.UUID | None,
) -> NotificationSubscription:
    await _check_references(session, payload, organization_scope)
    subscription = NotificationSubscription(id=uuid7(), **payload.model_dump())
    session.add(subscription)
    await session.flush()
    record_audit(
        session,
        actor=actor,
        action="create",
        entity_type="notification_subscription",
        entity_id=subscription.id,
        before=None,
        after=_audited(subscription),
    )
    return subscription


def _visible_subscriptions(organization_scope: uuid.UUID | None) -> Any:
    query = select(NotificationSubscription)
    condition = visible_contacts(organization_scope)
    if condition is not None:
        query = query.join(Contact, Contact.id == NotificationSubscription.contact_id).where(
            condition
        )
    return query


async def get_subscription(
    session: AsyncSession, subscription_id: uuid.UUID, *, organization_scope: uuid.UUID | None
) -> NotificationSubscription:
    query = _visible_subscriptions(organization_scope).where(
        NotificationSubscription.id == subscription_id
    )
    subscription = (await session.scalars(query)).one_or_none()
    if subscription is None:
        raise NotFound(f"Notification subscription {subscription_id} does not exist.")
    return subscription


async def list_subscriptions(
    session: AsyncSession,
    *,
    after: uuid.UUID | None,
    limit: int,
    organization_scope: uuid.UUID | None,
    contact_id: uuid.UUID | None = None,
    agreement_id: uuid.UUID | None = None,
) -> list[NotificationSubscription]:
    query = _visible_subscriptions(organization_scope)
    if contact_id is not None:
        query = query.where(NotificationSubscription.contact_id == contact_id)
    if agreement_id is not None:
        query = query.where(NotificationSubscription.agreement_id == agreement_id)
    if after is not None:
        query = query.where(NotificationSubscription.id > after)
    query = query.order_by(NotificationSubscription.id).limit(limit + 1)
    return list((await session.scalars(query)).all())


async def update_subscription(
    session: AsyncSession,
    *,
    actor: Actor,
    subscription: NotificationSubscription,
    payload: SubscriptionUpdate,
) -> NotificationSubscription:
    before = _audited(subscription)
    for name, value in payload.model_dump(exclude_unset=True).items():
        setattr(subscription, name, value)
    await session.flush()
    record_audit(
        session,
        actor=actor,
        action="update",
        entity_type="notification_subscription",
        entity_id=subscription.id,
        before=before,
        after=_audited(subscription),
    )
    return subscription


async def delete_subscription(
    session: AsyncSession, *, actor: Actor, subscription: NotificationSubscription
) -> None:
    record_audit(
        session,
        actor=actor,
        action="delete",
        entity_type="notification_subscription",
        entity_id=subscription.id,
        before=_audited(subscription),
        after=None,
    )
    await session.delete(subscription)
    await session.flush()


async def list_notifications(
    session: AsyncSession,
    *,
    after: uuid.UUID | None,
    limit: int,
    organization_scope: uuid.UUID | None,
    contact_id: uuid.UUID | None = None,
    status: str | None = None,
) -> list[Notification]:
    """The notification log, oldest first, limited to contacts the caller may see."""
    query = select(Notification)
    condition = visible_contacts(organization_scope)
    if condition is not None:
        query = query.join(Contact, Contact.id == Notification.contact_id).where(condition)
    if contact_id is not None:
        query = query.where(Notification.contact_id == contact_id)
    if status is not None:
        query = query.where(Notification.status == status)
    if after is not None:
        query = query.where(Notification.id > after)
    return list((await session.scalars(query.order_by(Notification.id).limit(limit + 1))).all())


async def notification_for_unsubscribe(
    session: AsyncSession, notification_id: uuid.UUID
) -> Notification:
    notification = await session.get(Notification, notification_id)
    if notification is None:
        raise NotFound("This unsubscribe link is not valid any more.")
    return notification


async def unsubscribe(session: AsyncSession, *, notification: Notification) -> list[str]:
    """Stop what sent this email: its scope, or every digest subscription for a digest.

    Remembered per contact and scope (an opt-out row), so later defaults (a
    focal point added again) honour it too. Idempotent.
    """
    if notification.delivery == "daily_digest":
        scopes = [
            subscription_scope(subscription_id)
            for subscription_id in (
                await session.scalars(
                    select(NotificationSubscription.id).where(
                        NotificationSubscription.contact_id == notification.contact_id,
                        NotificationSubscription.delivery == "daily_digest",
                    )
                )
            ).all()
        ] or [notification.scope]
    else:
        scopes = [notification.scope]
    statement = insert_for(session)(NotificationOptOut).on_conflict_do_nothing(
        index_elements=["contact_id", "scope"]
    )
    await session.execute(
        statement, [{"contact_id": notification.contact_id, "scope": scope} for scope in scopes]
    )
    record_audit(
        session,
        actor=Actor.system(),
        action="unsubscribe",
        entity_type="contact",
        entity_id=notification.contact_id,
        before=None,
        after={"scopes": scopes},
    )
    return scopes
