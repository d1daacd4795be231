"""Webhook deliveries as the API shows and steers them: the log, a test, retry, recover.

Functions flush; the caller commits. Sending is the worker's
(:mod:`services.worker.pump`), which claims what these functions make due.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shared.db import utcnow
from shared.errors import NotFound
from shared.events import Actor, record_audit
from shared.ids import uuid7
from shared.models import WebhookDelivery, WebhookEndpoint
from shared.webhooks.rules import TEST_EVENT_TYPE, delivery_body


def new_delivery(
    *,
    endpoint_id: uuid.UUID,
    event_id: uuid.UUID,
    event_type: str,
    body: str,
    now: dt.datetime,
) -> WebhookDelivery:
    return WebhookDelivery(
        id=uuid7(),
        endpoint_id=endpoint_id,
        event_id=event_id,
        event_type=event_type,
        body=body,
        status="pending",
        scheduled_attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


async def send_test(session: AsyncSession, *, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a `webhook.test` event for this endpoint alone (even when it is disabled
    nothing is sent until it is enabled again)."""
    now = utcnow()
    event_id = uuid7()
    body = delivery_body(
        event_type=TEST_EVENT_TYPE,
        occurred_at=now,
        sequence=None,
        data={"endpoint_id": str(endpoint.id), "message": "A test event from Accords."},
    )
    delivery = new_delivery(
        endpoint_id=endpoint.id, event_id=event_id, event_type=TEST_EVENT_TYPE, body=body, now=now
    )
    session.add(delivery)
    await session.flush()
    return await get_delivery(session, delivery.id, organization_id=None)


async def list_deliveries(
    session: AsyncSession,
    *,
    endpoint_id: uuid.UUID,
    after: uuid.UUID | None,
    limit: int,
    status: str | None = None,
    event_type: str | None = None,
) -> list[WebhookDelivery]:
    """Up to ``limit + 1`` deliveries of the endpoint, newest first, with attempts."""
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .options(selectinload(WebhookDelivery.attempts))
        .order_by(WebhookDelivery.id.desc())
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(WebhookDelivery.id < after)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if event_type is not None:
        query = query.where(WebhookDelivery.event_type == event_type)
    return list((await session.scalars(query)).all())


async def get_delivery(
    session: AsyncSession, delivery_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> WebhookDelivery:
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .options(selectinload(WebhookDelivery.attempts))
        .execution_options(populate_existing=True)
    )
    if organization_id is not None:
        query = query.join(WebhookEndpoint).where(
            WebhookEndpoint.organization_id == organization_id
        )
    delivery = await session.scalar(query)
    if delivery is None:
        raise NotFound(f"Webhook delivery {delivery_id} does not exist.")
    return delivery


async def retry_delivery(
    session: AsyncSession, *, actor: Actor, delivery: WebhookDelivery
) -> WebhookDelivery:
    """Send the delivery again now, with the same `webhook-id`, on a fresh schedule."""
    now = utcnow()
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id)
        .values(status="pending", scheduled_attempts=0, next_attempt_at=now, updated_at=now)
    )
    record_audit(
        session,
        actor=actor,
        action="retried",
        entity_type="webhook_delivery",
        entity_id=delivery.id,
        before={"status": delivery.status},
        after={"status": "pending"},
    )
    return await get_delivery(session, delivery.id, organization_id=None)


async def recover_failed(
    session: AsyncSession, *, actor: Actor, endpoint: WebhookEndpoint, since: dt.datetime
) -> int:
    """Queue again every failed delivery of the endpoint created since ``since``."""
    now = utcnow()
    result = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status == "failed",
            WebhookDelivery.created_at >= since,
        )
        .values(status="pending", scheduled_attempts=0, next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    recovered = result.rowcount or 0
    record_audit(
        session,
        actor=actor,
        action="recovered",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        before=None,
        after={"since": since.isoformat(), "recovered": recovered},
    )
    return recovered
