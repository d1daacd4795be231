"""Routes of `/v1/calendar-feeds` and the secret feed URLs `/calendar/{token}.ics`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from services.api.deps import Reader, SessionDep, SettingsDep
from services.api.http import CursorQuery, LimitQuery, Page, decode_cursor, paginate
from services.api.problems import problem_responses
from shared.calendar import service
from shared.calendar.ics import render_calendar
from shared.calendar.schemas import CalendarFeedCreate, CalendarFeedCreated, CalendarFeedPublic
from shared.clock import today as today_utc
from shared.db import utcnow

router = APIRouter(prefix="/v1/calendar-feeds", tags=["calendar"])
feeds_router = APIRouter(tags=["calendar"])

ICS_MEDIA_TYPE = "text/calendar; charset=utf-8"


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(401, 403, 422))
async def create_calendar_feed(
    body: CalendarFeedCreate, session: SessionDep, principal: Reader, response: Response
) -> CalendarFeedCreated:
    """Create a calendar feed: a secret URL that calendar clients subscribe to.

    The answer's `url` (`/calendar/{token}.ics`) is shown only once, like an
    api key; only its hash is stored. The feed shows exactly what the key
    creating it may see, within `agreement_id` or `organization_id` when one is
    given, and answers 404 once the feed or that key is deleted.
    """
    feed, token = await service.create_feed(
        session,
        actor=principal.actor,
        payload=body,
        organization_scope=principal.organization_id,
    )
    response.headers["Location"] = f"/v1/calendar-feeds/{feed.id}"
    public = CalendarFeedPublic.model_validate(feed)
    return CalendarFeedCreated(**public.model_dump(), url=service.feed_path(token))


@router.get("", responses=problem_responses(400, 401, 403, 422))
async def list_calendar_feeds(
    session: SessionDep, principal: Reader, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[CalendarFeedPublic]:
    """The feeds this key created (every feed for an admin key); never their URLs."""
    feeds = await service.list_feeds(
        session,
        api_key_id=principal.api_key_id,
        is_admin=principal.is_admin,
        after=decode_cursor(cursor),
        limit=limit,
    )
    return paginate(feeds, limit, CalendarFeedPublic)


@router.get("/{feed_id}", responses=problem_responses(401, 403, 404, 422))
async def get_calendar_feed(
    feed_id: uuid.UUID, session: SessionDep, principal: Reader
) -> CalendarFeedPublic:
    """One feed this key created (its URL is not shown again)."""
    feed = await service.get_feed(
        session, feed_id, api_key_id=principal.api_key_id, is_admin=principal.is_admin
    )
    return CalendarFeedPublic.model_validate(feed)


@router.delete(
    "/{feed_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_calendar_feed(feed_id: uuid.UUID, session: SessionDep, principal: Reader) -> None:
    """Delete a feed; its URL answers 404 from then on."""
    feed = await service.get_feed(
        session, feed_id, api_key_id=principal.api_key_id, is_admin=principal.is_admin
    )
    await service.delete_feed(session, actor=principal.actor, feed=feed)


@feeds_router.get(
    "/calendar/{token}.ics",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}, "description": "An RFC 5545 VCALENDAR."},
        **problem_responses(404),
    },
)
async def calendar_feed(token: str, session: SessionDep, settings: SettingsDep) -> Response:
    """The feed as iCalendar (RFC 5545), for calendar clients; the token is the credential.

    One all-day `VEVENT` per milestone due date, engagement, expiry date and
    report due date in scope, from a year back on, each with a `UID` stable
    across edits and a `SEQUENCE` that follows the resource's version;
    cancelled milestones and the expiry of a terminated or cancelled agreement
    come back with `STATUS:CANCELLED`.
    """
    feed, key_organization = await service.feed_for_token(session, token)
    items = await service.feed_items(
        session,
        feed,
        key_organization=key_organization,
        today=today_utc(),
        public_url=settings.public_url,
    )
    body = render_calendar(feed.name, items, now=utcnow())
    return Response(
        content=body,
        media_type=ICS_MEDIA_TYPE,
        headers={"Cache-Control": "private, max-age=300", "Content-Disposition": "inline"},
    )
