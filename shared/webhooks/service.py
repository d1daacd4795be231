"""Webhook endpoint and delivery use cases. Functions flush; the request boundary commits.

Endpoint changes are audited (``record_audit``) but are not events, except a
disable, which emits ``webhook_endpoint.disabled`` through ``record_change``.
Secrets are sealed before they reach the session and never enter an audit row,
an event or a log line.
"""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shared.db import utcnow
from shared.errors import DomainError, NotFound
from shared.events import Actor, Aggregate, record_audit, record_change
from shared.ids import uuid7
from shared.models import WebhookDelivery, WebhookEndpoint
from shared.net import TargetRefused, TargetUnresolvable, checked_addresses
from shared.secret_box import SecretBox
from shared.settings import Settings
from shared.webhooks.rules import (
    ROTATION_GRACE,
    TEST_EVENT_TYPE,
    delivery_body,
    generate_secret,
    url_problem,
)
from shared.webhooks.schemas import (
    WebhookEndpointCreate,
    WebhookEndpointPublic,
    WebhookEndpointUpdate,
)


class TargetNotAllowed(DomainError):
    status = 422
    type_slug = "webhook-target-refused"
    title = "Webhook target refused"


def as_public(endpoint: WebhookEndpoint) -> dict:
    return WebhookEndpointPublic.model_validate(endpoint).model_dump(mode="json")


def secret_context(endpoint_id: uuid.UUID) -> str:
    """The associated data binding a sealed secret to its endpoint row."""
    return f"webhook_endpoint:{endpoint_id}"


def open_secrets(endpoint: WebhookEndpoint, box: SecretBox) -> tuple[str, str | None]:
    """The current secret and the previous one (if any), in clear."""
    context = secret_context(endpoint.id)
    current = box.open(endpoint.secret_sealed, context=context)
    previous = (
        box.open(endpoint.previous_secret_sealed, context=context)
        if endpoint.previous_secret_sealed
        else None
    )
    return current, previous


async def check_target(url: str, settings: Settings) -> None:
    """Refuse a target URL that is malformed or resolves to a non-public address.

    A name that does not resolve (yet) is accepted: the same check runs again
    at every send, against the address actually connected to.
    """
    allow_private = settings.webhook_allow_private_targets
    problem = url_problem(url, allow_private=allow_private)
    if problem is None and not allow_private:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            await checked_addresses(parts.hostname or "", port, allow_private=False)
        except TargetRefused as exc:
            problem = str(exc)
        except TargetUnresolvable:
            problem = None
    if problem:
        raise TargetNotAllowed(
            f"Webhooks cannot be sent to this url: {problem}.",
            errors=[{"loc": ["body", "url"], "msg": problem}],
        )


async def get_endpoint(
    session: AsyncSession,
    endpoint_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None,
    for_update: bool = False,
) -> WebhookEndpoint:
    """The endpoint, if the caller may see it (a key bound to an organization sees
    only that organization's endpoints; anything else is 404)."""
    query = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    if organization_id is not None:
        query = query.where(WebhookEndpoint.organization_id == organization_id)
    if for_update:
        query = query.with_for_update()
    endpoint = await session.scalar(query)
    if endpoint is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} does not exist.")
    return endpoint


async def list_endpoints(
    session: AsyncSession,
    *,
    after: uuid.UUID | None,
    limit: int,
    organization_id: uuid.UUID | None,
    enabled: bool | None = None,
) -> list[WebhookEndpoint]:
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.id).limit(limit + 1)
    if after is not None:
        query = query.where(WebhookEndpoint.id > after)
    if organization_id is not None:
        query = query.where(WebhookEndpoint.organization_id == organization_id)
    if enabled is not None:
        query = query.where(WebhookEndpoint.enabled == enabled)
    return list((await session.scalars(query)).all())


async def create_endpoint(
    session: AsyncSession,
    *,
    actor: Actor,
    organization_id: uuid.UUID | None,
    payload: WebhookEndpointCreate,
    settings: Settings,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it with its new secret in clear (shown once)."""
    box = SecretBox.from_settings(settings)
    await check_target(payload.url, settings)
    secret = generate_secret()
    endpoint_id = uuid7()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        url=payload.url,
        description=payload.description,
        event_types=list(dict.fromkeys(payload.event_types)),
        enabled=payload.enabled,
        secret_sealed=box.seal(secret, context=secret_context(endpoint_id)),
        organization_id=organization_id,
        created_by_api_key_id=actor.api_key_id,
    )
    session.add(endpoint)
    await session.flush()
    record_audit(
        session,
        actor=actor,
        action="created",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        before=None,
        after=as_public(endpoint),
    )
    return endpoint, secret


async def update_endpoint(
    session: AsyncSession,
    *,
    actor: Actor,
    endpoint: WebhookEndpoint,
    payload: WebhookEndpointUpdate,
    settings: Settings,
) -> WebhookEndpoint:
    changes = payload.changes()
    if "url" in changes:
        await check_target(changes["url"], settings)
    if "event_types" in changes:
        changes["event_types"] = list(dict.fromkeys(changes["event_types"]))
    changes = {
        field: value for field, value in changes.items() if getattr(endpoint, field) != value
    }
    if not changes:
        return endpoint
    before = as_public(endpoint)
    was_enabled = endpoint.enabled
    for field, value in changes.items():
        setattr(endpoint, field, value)
    if changes.get("enabled") is True:
        # A fresh start: the failure clock and the reason go.
        endpoint.disabled_reason = None
        endpoint.failing_since = None
    elif changes.get("enabled") is False:
        endpoint.disabled_reason = "disabled through the API"
    await session.flush()
    after = as_public(endpoint)
    if was_enabled and not endpoint.enabled:
        await record_change(
            session,
            actor=actor,
            event_type="webhook_endpoint.disabled",
            aggregate=Aggregate("webhook_endpoint", endpoint.id),
            entity_id=endpoint.id,
            before=before,
            after=after,
        )
    else:
        record_audit(
            session,
            actor=actor,
            action="updated",
            entity_type="webhook_endpoint",
            entity_id=endpoint.id,
            before=before,
            after=after,
        )
    return endpoint


async def delete_endpoint(
    session: AsyncSession, *, actor: Actor, endpoint: WebhookEndpoint
) -> None:
    """Delete the endpoint with its delivery log."""
    before = as_public(endpoint)
    await session.delete(endpoint)
    await session.flush()
    record_audit(
        session,
        actor=actor,
        action="deleted",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        before=before,
        after=None,
    )


async def rotate_secret(
    session: AsyncSession,
    *,
    actor: Actor,
    endpoint: WebhookEndpoint,
    settings: Settings,
    expire_previous_now: bool = False,
) -> tuple[WebhookEndpoint, str]:
    """Give the endpoint a new secret; the old one keeps signing for 24 h."""
    box = SecretBox.from_settings(settings)
    secret = generate_secret()
    context = secret_context(endpoint.id)
    before = as_public(endpoint)
    if expire_previous_now:
        endpoint.previous_secret_sealed = None
        endpoint.previous_secret_valid_until = None
    else:
        endpoint.previous_secret_sealed = endpoint.secret_sealed
        endpoint.previous_secret_valid_until = utcnow() + ROTATION_GRACE
    # The UPDATE bumps the version, so cached representations and If-Match notice.
    endpoint.secret_sealed = box.seal(secret, context=context)
    await session.flush()
    record_audit(
        session,
        actor=actor,
        action="secret_rotated",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        before=before,
        after=as_public(endpoint),
    )
    return endpoint, secret


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
