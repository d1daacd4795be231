"""Routes of notification subscriptions, the notification log, and one-click unsubscribe."""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.deps import Reader, SessionDep, SettingsDep, Writer
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
from shared.errors import NotFound
from shared.models import Notification
from shared.notifications import subscriptions as service
from shared.notifications.rules import read_unsubscribe_token
from shared.notifications.schemas import (
    NotificationPublic,
    NotificationStatus,
    SubscriptionCreate,
    SubscriptionPublic,
    SubscriptionUpdate,
)
from shared.secret_box import key_material
from shared.settings import Settings

router = APIRouter(prefix="/v1/notification-subscriptions", tags=["notifications"])
log_router = APIRouter(prefix="/v1/notifications", tags=["notifications"])
unsubscribe_router = APIRouter(tags=["notifications"])

_pages = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(401, 403, 422))
async def create_subscription(
    body: SubscriptionCreate, session: SessionDep, principal: Writer, response: Response
) -> SubscriptionPublic:
    """Subscribe a contact to events by email, at once or in a daily digest.

    `event_types` takes types or prefixes (`report.`), as webhooks do;
    `agreement_id` or `organization_id` narrows it to events about that
    agreement, or about agreements that organization is party to. Focal points
    of an agreement need no subscription for its reminders (`agreement.expiring`,
    `milestone.overdue`, `report.due`, `report.overdue`, `agreement.amended`):
    they receive them unless they unsubscribed.
    """
    subscription = await service.create_subscription(
        session, actor=principal.actor, payload=body, organization_scope=principal.organization_id
    )
    response.headers["Location"] = f"/v1/notification-subscriptions/{subscription.id}"
    set_etag(response, subscription.version)
    return SubscriptionPublic.model_validate(subscription)


@router.get("", responses=problem_responses(400, 401, 403, 422))
async def list_subscriptions(
    session: SessionDep,
    principal: Reader,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    contact_id: uuid.UUID | None = Query(default=None, description="Only this contact's."),
    agreement_id: uuid.UUID | None = Query(default=None, description="Only those about it."),
) -> Page[SubscriptionPublic]:
    """List subscriptions (of the contacts the key may see) in creation order."""
    rows = await service.list_subscriptions(
        session,
        after=decode_cursor(cursor),
        limit=limit,
        organization_scope=principal.organization_id,
        contact_id=contact_id,
        agreement_id=agreement_id,
    )
    return paginate(rows, limit, SubscriptionPublic)


@router.get("/{subscription_id}", responses=problem_responses(401, 403, 404, 422))
async def get_subscription(
    subscription_id: uuid.UUID, session: SessionDep, principal: Reader, response: Response
) -> SubscriptionPublic:
    """Fetch one subscription; the `ETag` header carries its version."""
    subscription = await service.get_subscription(
        session, subscription_id, organization_scope=principal.organization_id
    )
    set_etag(response, subscription.version)
    return SubscriptionPublic.model_validate(subscription)


@router.patch("/{subscription_id}", responses=problem_responses(401, 403, 404, 412, 422, 428))
async def update_subscription(
    subscription_id: uuid.UUID,
    body: SubscriptionUpdate,
    session: SessionDep,
    principal: Writer,
    response: Response,
    if_match: IfMatchHeader = None,
) -> SubscriptionPublic:
    """Change the event types or the delivery of a subscription. Needs `If-Match`."""
    subscription = await service.get_subscription(
        session, subscription_id, organization_scope=principal.organization_id
    )
    check_if_match(if_match, subscription.version)
    subscription = await service.update_subscription(
        session, actor=principal.actor, subscription=subscription, payload=body
    )
    set_etag(response, subscription.version)
    return SubscriptionPublic.model_validate(subscription)


@router.delete(
    "/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
async def delete_subscription(
    subscription_id: uuid.UUID,
    session: SessionDep,
    principal: Writer,
    if_match: IfMatchHeader = None,
) -> None:
    """Delete a subscription. Needs `If-Match`."""
    subscription = await service.get_subscription(
        session, subscription_id, organization_scope=principal.organization_id
    )
    check_if_match(if_match, subscription.version)
    await service.delete_subscription(session, actor=principal.actor, subscription=subscription)


@log_router.get("", responses=problem_responses(400, 401, 403, 422))
async def list_notifications(
    session: SessionDep,
    principal: Reader,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    contact_id: uuid.UUID | None = Query(default=None, description="Only this contact's."),
    status: NotificationStatus | None = Query(default=None, description="Only in this state."),
) -> Page[NotificationPublic]:
    """The notification log: every email written for a person, and how its sending went.

    `held` means no SMTP server is configured yet (`ACCORDS_SMTP_URL`); such
    notifications are sent once it is. `failed` means every retry failed.
    """
    rows = await service.list_notifications(
        session,
        after=decode_cursor(cursor),
        limit=limit,
        organization_scope=principal.organization_id,
        contact_id=contact_id,
        status=status,
    )
    return paginate(rows, limit, NotificationPublic)


def _page(title: str, *, status_code: int = 200, **context: object) -> HTMLResponse:
    html = _pages.get_template("unsubscribe.html").render(title=title, **context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


async def _notification(
    settings: Settings, token: str, session: AsyncSession
) -> Notification | None:
    """The notification a token was made for; None for a forged, mistyped or stale one."""
    secret = key_material(settings, missing="Set ACCORDS_SECRET_KEY.")
    notification_id = read_unsubscribe_token(token, secret=secret)
    if notification_id is None:
        return None
    try:
        return await service.notification_for_unsubscribe(session, notification_id)
    except NotFound:
        return None


@unsubscribe_router.get(
    "/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False
)
async def confirm_unsubscribe(
    token: str, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """A confirmation page; changes nothing (link scanners follow GETs)."""
    notification = await _notification(settings, token, session)
    if notification is None:
        return _page("Link not valid", status_code=404, missing=True)
    return _page("Unsubscribe", subject=notification.subject)


@unsubscribe_router.post(
    "/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False
)
async def unsubscribe(token: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """RFC 8058 one-click unsubscribe: no api key, the single-purpose token is enough."""
    notification = await _notification(settings, token, session)
    if notification is None:
        return _page("Link not valid", status_code=404, missing=True)
    await service.unsubscribe(session, notification=notification)
    return _page("You are unsubscribed", done=True)
