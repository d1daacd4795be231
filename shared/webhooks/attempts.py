"""Recording what an attempt gave: the attempt row, the delivery's next step, the endpoint.

Successes (the common case) are recorded in batches with a few set-based
statements; a failure schedules the next attempt from the retry schedule (or
the receiver's ``Retry-After``), and an endpoint that answers 410 Gone or has
failed for five days is disabled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import utcnow
from shared.ids import uuid7
from shared.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from shared.settings import Settings
from shared.webhooks.deliveries import Claim
from shared.webhooks.endpoints import disable_endpoint
from shared.webhooks.rules import parse_retry_after, retry_delay, should_disable

# last_success_at is refreshed at most this often per endpoint: a busy,
# healthy endpoint would otherwise serialise every success on its row lock.
SUCCESS_STAMP_EVERY = dt.timedelta(seconds=60)


def _success_stamp_due(now: dt.datetime) -> ColumnElement[bool]:
    """Endpoints whose success stamp a success must refresh: failing, never
    stamped, or stamped longer ago than SUCCESS_STAMP_EVERY (the raw SQL of
    record_successes on PostgreSQL says the same)."""
    return or_(
        WebhookEndpoint.failing_since.is_not(None),
        WebhookEndpoint.last_success_at.is_(None),
        WebhookEndpoint.last_success_at < now - SUCCESS_STAMP_EVERY,
    )


@dataclass(frozen=True)
class Outcome:
    """What one HTTP attempt gave."""

    status_code: int | None
    duration_ms: int
    error: str | None = None
    response_body: str | None = None
    retry_after: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def record_outcome(
    session: AsyncSession,
    settings: Settings,
    claim: Claim,
    outcome: Outcome,
    *,
    at: dt.datetime,
) -> str | None:
    """Write the attempt and decide what comes next; returns the delivery's status
    (None when the delivery no longer exists)."""
    delivery = await session.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == claim.delivery_id).with_for_update()
    )
    if delivery is None:
        return None
    session.add(
        WebhookAttempt(
            id=uuid7(),
            delivery_id=delivery.id,
            at=at,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            error=outcome.error,
            response_body=outcome.response_body,
        )
    )
    now = utcnow()
    endpoints = update(WebhookEndpoint).where(WebhookEndpoint.id == claim.endpoint_id)
    if outcome.succeeded:
        delivery.status = "succeeded"
        delivery.next_attempt_at = None
        await session.execute(
            endpoints.where(_success_stamp_due(now)).values(last_success_at=now, failing_since=None)
        )
    elif outcome.status_code == 410:
        delivery.status = "failed"
        delivery.next_attempt_at = None
        await disable_endpoint(session, claim.endpoint_id, reason="the endpoint answered 410 Gone")
    else:
        delivery.scheduled_attempts += 1
        await session.execute(
            endpoints.where(WebhookEndpoint.failing_since.is_(None)).values(failing_since=at)
        )
        failing_since = await session.scalar(
            select(WebhookEndpoint.failing_since).where(WebhookEndpoint.id == claim.endpoint_id)
        )
        delay = retry_delay(delivery.scheduled_attempts, settings.webhook_retry_schedule)
        if delay is not None and outcome.status_code in (429, 503):
            asked = parse_retry_after(outcome.retry_after, now)
            if asked is not None:
                delay = asked
        if delay is None:
            delivery.status = "failed"
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
        if should_disable(failing_since, now):
            await disable_endpoint(
                session, claim.endpoint_id, reason="no successful delivery for 5 days"
            )
    await session.flush()
    return delivery.status


# Marks the deliveries succeeded, writes their attempts (only for deliveries
# that still exist) and refreshes the endpoints' success stamp when it is
# stale or they were failing (rows locked in id order).
_RECORD_SUCCESSES = text(
    """
    WITH succeeded AS (
        UPDATE webhook_deliveries
        SET status = 'succeeded', next_attempt_at = NULL, updated_at = :now
        WHERE id = ANY(CAST(:delivery_ids AS uuid[]))
        RETURNING id
    ), stamped AS (
        UPDATE webhook_endpoints
        SET last_success_at = :now, failing_since = NULL
        WHERE id IN (
            SELECT id FROM webhook_endpoints
            WHERE id = ANY(CAST(:endpoint_ids AS uuid[]))
              AND (failing_since IS NOT NULL OR last_success_at IS NULL
                   OR last_success_at < :stale)
            ORDER BY id
            FOR UPDATE
        )
    )
    INSERT INTO webhook_attempts
        (id, delivery_id, at, status_code, duration_ms, error, response_body)
    SELECT a.id, a.delivery_id, a.at, a.status_code, a.duration_ms, a.error, a.response_body
    FROM unnest(
        CAST(:attempt_ids AS uuid[]), CAST(:delivery_ids AS uuid[]),
        CAST(:ats AS timestamptz[]), CAST(:codes AS integer[]),
        CAST(:durations AS integer[]), CAST(:errors AS text[]), CAST(:bodies AS text[])
    ) AS a(id, delivery_id, at, status_code, duration_ms, error, response_body)
    WHERE a.delivery_id IN (SELECT id FROM succeeded)
    """
)


async def record_successes(
    session: AsyncSession, results: list[tuple[Claim, Outcome, dt.datetime]]
) -> None:
    """Record a batch of successful attempts with a few set-based statements
    (the common case, so it must not cost a transaction per delivery); on
    PostgreSQL with one statement, which needs no transaction around it."""
    now = utcnow()
    if session.bind.dialect.name == "postgresql":
        await session.execute(
            _RECORD_SUCCESSES,
            {
                "now": now,
                "stale": now - SUCCESS_STAMP_EVERY,
                "delivery_ids": [claim.delivery_id for claim, _, _ in results],
                "endpoint_ids": sorted({claim.endpoint_id for claim, _, _ in results}),
                "attempt_ids": [uuid7() for _ in results],
                "ats": [at for _, _, at in results],
                "codes": [outcome.status_code for _, outcome, _ in results],
                "durations": [outcome.duration_ms for _, outcome, _ in results],
                "errors": [outcome.error for _, outcome, _ in results],
                "bodies": [outcome.response_body for _, outcome, _ in results],
            },
        )
        return
    await session.execute(
        insert(WebhookAttempt),
        [
            {
                "id": uuid7(),
                "delivery_id": claim.delivery_id,
                "at": at,
                "status_code": outcome.status_code,
                "duration_ms": outcome.duration_ms,
                "error": outcome.error,
                "response_body": outcome.response_body,
            }
            for claim, outcome, at in results
        ],
    )
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_([claim.delivery_id for claim, _, _ in results]))
        .values(status="succeeded", next_attempt_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    for endpoint_id in sorted({claim.endpoint_id for claim, _, _ in results}):
        await session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.id == endpoint_id,
                _success_stamp_due(now),
            )
            .values(last_success_at=now, failing_since=None)
            .execution_options(synchronize_session=False)
        )
