"""Webhook endpoints and their secrets. Functions flush; the caller commits.

Endpoint changes are audited (``record_audit``) but are not events, except a
disable (through the API or by the worker), which emits
``webhook_endpoint.disabled`` through ``record_change``
(:func:`disable_endpoint`). Secrets are sealed before they reach the session
and never enter an audit row, an event or a log line.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import utcnow
from shared.errors import DomainError, NotFound
from shared.events import Actor, Aggregate, record_audit, record_change
from shared.ids import uuid7
from shared.models import WebhookEndpoint
from shared.net import TargetRefused, TargetUnresolvable, checked_addresses
from shared.rows import rows_after
from shared.secret_box import SecretBox
from shared.settings import Settings
from shared.webhooks.rules import (
    ROTATION_GRACE,
    generate_secret,
    url_problem,
)
from shared.webhooks.schemas import (
    WebhookEndpointCreate,
    WebhookEndpointPublic,
    WebhookEndpointUpdate,
)

log = structlog.get_logger("accords.webhooks")


class TargetNotAllowed(DomainError):
    status = 422
    type_slug = "webhook-target-refused"
    title = "Webhook target refused"


def as_public(endpoint: WebhookEndpoint) -> dict:
    return WebhookEndpointPublic.model_validate(endpoint).model_dump(mode="json")


def secret_context(endpoint_id: uuid.UUID) -> str:
    """The associated data binding a sealed secret to its endpoint row."""
    return f"webhook_endpoint:{endpoint_id}"


def open_secrets(
    box: SecretBox,
    *,
    endpoint_id: uuid.UUID,
    sealed: str,
    previous_sealed: str | None,
) -> tuple[str, str | None]:
    """An endpoint's current secret and its previous one (if any), in clear."""
    context = secret_context(endpoint_id)
    current = box.open(sealed, context=context)
    previous = box.open(previous_sealed, context=context) if previous_sealed else None
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
    query = select(WebhookEndpoint)
    if organization_id is not None:
        query = query.where(WebhookEndpoint.organization_id == organization_id)
    if enabled is not None:
        query = query.where(WebhookEndpoint.enabled == enabled)
    return await rows_after(session, query, WebhookEndpoint.id, after=after, limit=limit)


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
    if was_enabled and not endpoint.enabled:
        await _announce_disabled(session, actor=actor, endpoint=endpoint, before=before)
    else:
        record_audit(
            session,
            actor=actor,
            action="updated",
            entity_type="webhook_endpoint",
            entity_id=endpoint.id,
            before=before,
            after=as_public(endpoint),
        )
    return endpoint


async def disable_endpoint(
    session: AsyncSession,
    endpoint_id: uuid.UUID,
    *,
    reason: str,
    actor: Actor | None = None,
) -> bool:
    """Disable an enabled endpoint and emit ``webhook_endpoint.disabled``.

    Locks the row, so of two concurrent disables only one emits the event.
    Returns whether this call disabled it.
    """
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).with_for_update()
    )
    if endpoint is None or not endpoint.enabled:
        return False
    before = as_public(endpoint)
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    await session.flush()
    await _announce_disabled(
        session, actor=actor or Actor.system(), endpoint=endpoint, before=before
    )
    return True


async def _announce_disabled(
    session: AsyncSession, *, actor: Actor, endpoint: WebhookEndpoint, before: dict
) -> None:
    """The ``webhook_endpoint.disabled`` event (and audit row) of a disable just flushed."""
    await record_change(
        session,
        actor=actor,
        event_type="webhook_endpoint.disabled",
        aggregate=Aggregate("webhook_endpoint", endpoint.id),
        entity_id=endpoint.id,
        before=before,
        after=as_public(endpoint),
    )
    log.warning(
        "webhook_endpoint_disabled", endpoint_id=str(endpoint.id), reason=endpoint.disabled_reason
    )


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
