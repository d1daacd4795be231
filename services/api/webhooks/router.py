"""Routes of `/v1/webhook-endpoints` and `/v1/webhook-deliveries` (scope `webhooks`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.api.deps import SessionDep, SettingsDep, WebhookManager
from services.api.http import (
    CursorQuery,
    IfMatchHeader,
    LimitQuery,
    Page,
    check_if_match,
    decode_cursor,
    paginate,
    set_etag,
)
from services.api.problems import problem_responses
from shared.webhooks import delivery_log, endpoints
from shared.webhooks.schemas import (
    DeliveryStatus,
    RecoverRequest,
    RecoverResult,
    RotateSecretRequest,
    WebhookDeliveryPublic,
    WebhookEndpointCreate,
    WebhookEndpointPublic,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
)

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])
deliveries_router = APIRouter(prefix="/v1/webhook-deliveries", tags=["webhooks"])


def _with_secret(endpoint: object, secret: str) -> WebhookEndpointWithSecret:
    public = WebhookEndpointPublic.model_validate(endpoint)
    return WebhookEndpointWithSecret(**public.model_dump(), secret=secret)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def create_webhook_endpoint(
    body: WebhookEndpointCreate,
    session: SessionDep,
    principal: WebhookManager,
    settings: SettingsDep,
    response: Response,
) -> WebhookEndpointWithSecret:
    """Register a receiver of events, signed with Standard Webhooks 1.0.

    The answer carries the signing `secret` (`whsec_…`): it is shown here and by
    `rotate-secret` only. `event_types` takes types or prefixes ending in `.`
    (`agreement.`); empty means every event. The url must be https and must not
    resolve to a private, loopback, link-local, CGNAT, multicast or reserved
    address (422), unless the server allows private targets. An endpoint created
    with a key bound to an organization receives only events about that
    organization's agreements.
    """
    endpoint, secret = await endpoints.create_endpoint(
        session,
        actor=principal.actor,
        organization_id=principal.organization_id,
        payload=body,
        settings=settings,
    )
    response.headers["Location"] = f"/v1/webhook-endpoints/{endpoint.id}"
    set_etag(response, endpoint.version)
    return _with_secret(endpoint, secret)


@router.get("", responses=problem_responses(400, 401, 403, 422))
async def list_webhook_endpoints(
    session: SessionDep,
    principal: WebhookManager,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    enabled: bool | None = Query(default=None, description="Only enabled (or disabled) ones."),
) -> Page[WebhookEndpointPublic]:
    """List webhook endpoints in creation order (never with their secrets)."""
    rows = await endpoints.list_endpoints(
        session,
        after=decode_cursor(cursor),
        limit=limit,
        organization_id=principal.organization_id,
        enabled=enabled,
    )
    return paginate(rows, limit, WebhookEndpointPublic)


@router.get("/{endpoint_id}", responses=problem_responses(401, 403, 404, 422))
async def get_webhook_endpoint(
    endpoint_id: uuid.UUID, session: SessionDep, principal: WebhookManager, response: Response
) -> WebhookEndpointPublic:
    """Fetch one endpoint (without its secret); the `ETag` header carries its version."""
    endpoint = await endpoints.get_endpoint(
        session, endpoint_id, organization_id=principal.organization_id
    )
    set_etag(response, endpoint.version)
    return WebhookEndpointPublic.model_validate(endpoint)


@router.patch("/{endpoint_id}", responses=problem_responses(401, 403, 404, 409, 412, 422, 428, 503))
async def update_webhook_endpoint(
    endpoint_id: uuid.UUID,
    body: WebhookEndpointUpdate,
    session: SessionDep,
    principal: WebhookManager,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> WebhookEndpointPublic:
    """Change the url, description, event types or `enabled`. Needs `If-Match`.

    Setting `enabled` to true re-enables an endpoint the server disabled (after
    a 410, or five days without a success) and clears `disabled_reason`;
    deliveries still pending are then sent. Disabling emits
    `webhook_endpoint.disabled`.
    """
    endpoint = await endpoints.get_endpoint(
        session, endpoint_id, organization_id=principal.organization_id, for_update=True
    )
    check_if_match(if_match, endpoint.version)
    endpoint = await endpoints.update_endpoint(
        session, actor=principal.actor, endpoint=endpoint, payload=body, settings=settings
    )
    set_etag(response, endpoint.version)
    return WebhookEndpointPublic.model_validate(endpoint)


@router.delete(
    "/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def delete_webhook_endpoint(
    endpoint_id: uuid.UUID,
    session: SessionDep,
    principal: WebhookManager,
    if_match: IfMatchHeader = None,
) -> None:
    """Delete an endpoint and its delivery log; nothing more is sent to it."""
    endpoint = await endpoints.get_endpoint(
        session, endpoint_id, organization_id=principal.organization_id, for_update=True
    )
    check_if_match(if_match, endpoint.version)
    await endpoints.delete_endpoint(session, actor=principal.actor, endpoint=endpoint)


@router.post(
    "/{endpoint_id}/rotate-secret",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def rotate_webhook_secret(
    endpoint_id: uuid.UUID,
    session: SessionDep,
    principal: WebhookManager,
    settings: SettingsDep,
    response: Response,
    body: RotateSecretRequest | None = None,
) -> WebhookEndpointWithSecret:
    """Issue a new signing secret, returned in this answer only.

    For 24 hours deliveries carry two signatures in `webhook-signature`, one
    with the new secret and one with the previous, space separated, so a
    receiver can switch without losing a delivery. `expire_previous_now`
    drops the previous secret at once (for a leaked secret).
    """
    endpoint = await endpoints.get_endpoint(
        session, endpoint_id, organization_id=principal.organization_id, for_update=True
    )
    endpoint, secret = await endpoints.rotate_secret(
        session,
        actor=principal.actor,
        endpoint=endpoint,
        settings=settings,
        expire_previous_now=bool(body and body.expire_previous_now),
    )
    set_etag(response, endpoint.version)
    return _with_secret(endpoint, secret)


@router.post(
    "/{endpoint_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def test_webhook_endpoint(
    endpoint_id: uuid.UUID, session: SessionDep, principal: WebhookManager
) -> WebhookDeliveryPublic:
    """Queue a `webhook.test` event for this endpoint only; follow it in the delivery log."""
    endpoint = await endpoints.get_endpoint(
        session, endpoint_id, organization_id=principal.organization_id
    )
    delivery = await delivery_log.send_test(session, endpoint=endpoint)
    return WebhookDeliveryPublic.model_validate(delivery)


@router.get("/{endpoint_id}/deliveries", responses=problem_responses(400, 401, 403, 404, 422))
async def list_webhook_deliveries(
    endpoint_id: uuid.UUID,
    session: SessionDep,
    principal: WebhookManager,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    status: DeliveryStatus | None = None,
    event_type: Annotated[str | None, Query(max_length=80)] = None,
) -> Page[WebhookDeliveryPublic]:
    """The endpoint's delivery log, newest first, each delivery with its attempts
    (time, status code, duration, error, the first 2 kB of the response)."""
    await endpoints.get_endpoint(session, endpoint_id, organization_id=principal.organization_id)
    rows = await delivery_log.list_deliveries(
        session,
        endpoint_id=endpoint_id,
        after=decode_cursor(cursor),
        limit=limit,
        status=status,
        event_type=event_type,
    )
    return paginate(rows, limit, WebhookDeliveryPublic)


@router.post(
    "/{endpoint_id}/recover",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def recover_webhook_deliveries(
    endpoint_id: uuid.UUID, body: RecoverRequest, session: SessionDep, principal: WebhookManager
) -> RecoverResult:
    """Re-send every failed delivery of this endpoint created since `since`,
    each with its original `webhook-id` and a fresh retry schedule."""
    endpoint = await endpoints.get_endpoint(
        session, endpoint_id, organization_id=principal.organization_id
    )
    recovered = await delivery_log.recover_failed(
        session, actor=principal.actor, endpoint=endpoint, since=body.since
    )
    return RecoverResult(recovered=recovered)


@deliveries_router.get("/{delivery_id}", responses=problem_responses(401, 403, 404, 422))
async def get_webhook_delivery(
    delivery_id: uuid.UUID, session: SessionDep, principal: WebhookManager
) -> WebhookDeliveryPublic:
    """Fetch one delivery with its attempts."""
    delivery = await delivery_log.get_delivery(
        session, delivery_id, organization_id=principal.organization_id
    )
    return WebhookDeliveryPublic.model_validate(delivery)


@deliveries_router.post(
    "/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def retry_webhook_delivery(
    delivery_id: uuid.UUID, session: SessionDep, principal: WebhookManager
) -> WebhookDeliveryPublic:
    """Send this delivery again now (same `webhook-id`), on a fresh retry schedule,
    whatever its status."""
    delivery = await delivery_log.get_delivery(
        session, delivery_id, organization_id=principal.organization_id
    )
    delivery = await delivery_log.retry_delivery(session, actor=principal.actor, delivery=delivery)
    return WebhookDeliveryPublic.model_validate(delivery)
