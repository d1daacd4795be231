"""Delivery state: adding deliveries, and leasing the due ones to a sender.

Deliveries are driven by the database, not by broker messages: a delivery is
due when ``status = 'pending'`` and ``next_attempt_at <= now``.
:func:`claim_due` takes a batch (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several workers share the work) and pushes each ``next_attempt_at`` out by a
lease before committing; the HTTP request then runs outside any transaction,
and :mod:`shared.webhooks.attempts` records what it gave. A worker killed
mid-send leaves its deliveries due again when the lease runs out: nothing is
lost, at worst sent twice with the same ``webhook-id`` (receivers deduplicate
on it). A sender still waiting for an answer extends its lease
(:func:`extend_leases`), so a slow receiver is not sent the same attempt twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import insert_for, utcnow
from shared.models import WebhookDelivery, WebhookEndpoint
from shared.settings import Settings

# A claimed delivery is not claimed again for this long past the send timeout.
LEASE_MARGIN_SECONDS = 10.0


@dataclass(frozen=True)
class Claim:
    """A delivery this worker holds the lease of, with what it needs to send it."""

    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    url: str
    body: str
    secret_sealed: str
    previous_secret_sealed: str | None
    previous_secret_valid_until: dt.datetime | None
    # The delivery's next_attempt_at as this claim set it: the lease's end.
    leased_until: dt.datetime


def lease(settings: Settings) -> dt.timedelta:
    """How long a claim keeps a delivery from the other senders (unless renewed)."""
    seconds = settings.webhook_lease_seconds
    if seconds is None:
        seconds = settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS
    return dt.timedelta(seconds=seconds)


async def extend_leases(
    session: AsyncSession, claims: Sequence[Claim], *, until: dt.datetime
) -> list[Claim]:
    """Push the lease of ``claims`` out to ``until``; returns the claims renewed.

    A claim is renewed only while its delivery still carries its lease (pending,
    ``next_attempt_at`` as the claim left it): a delivery already recorded, or
    whose lease ran out and was claimed by another sender, is left alone.
    """
    renewed: list[Claim] = []
    by_end: dict[dt.datetime, list[Claim]] = {}
    for claim in claims:
        by_end.setdefault(claim.leased_until, []).append(claim)
    for held, group in by_end.items():
        ids = (
            await session.scalars(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id.in_([claim.delivery_id for claim in group]),
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at == held,
                )
                .values(next_attempt_at=until)
                .returning(WebhookDelivery.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
        kept = set(ids)
        renewed += [
            dataclasses.replace(claim, leased_until=until)
            for claim in group
            if claim.delivery_id in kept
        ]
    return renewed


async def add_deliveries(
    session: AsyncSession, rows: Sequence[dict[str, Any]], *, returning: bool = False
) -> list[uuid.UUID]:
    """Insert ``webhook_deliveries`` rows, one per (endpoint, event) at most.

    A row whose endpoint already has a delivery of the event is skipped (so a
    redelivered event adds nothing). With ``returning``, the ids of the rows
    written now.
    """
    # Rows as parameters, not .values(rows): a multi-VALUES statement is
    # compiled afresh for each number of rows, this one once per process.
    statement = insert_for(session)(WebhookDelivery).on_conflict_do_nothing(
        index_elements=["endpoint_id", "event_id"]
    )
    if not returning:
        await session.execute(statement, rows)
        return []
    return list((await session.scalars(statement.returning(WebhookDelivery.id), rows)).all())


async def claim_due(
    session: AsyncSession,
    settings: Settings,
    *,
    limit: int,
    delivery_id: uuid.UUID | None = None,
) -> list[Claim]:
    """Lease up to ``limit`` due deliveries of enabled endpoints (or just ``delivery_id``).

    The caller commits; until the lease ends no other worker takes them.
    """
    now = utcnow()
    due = (
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.enabled.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
    if delivery_id is not None:
        due = due.where(WebhookDelivery.id == delivery_id)
    lease_end = now + lease(settings)
    returned = (
        WebhookDelivery.id,
        WebhookDelivery.endpoint_id,
        WebhookDelivery.event_id,
        WebhookDelivery.body,
        WebhookEndpoint.url,
        WebhookEndpoint.secret_sealed,
        WebhookEndpoint.previous_secret_sealed,
        WebhookEndpoint.previous_secret_valid_until,
    )
    if session.bind.dialect.name == "postgresql":
        # One statement: lock the due rows (skipping those another worker
        # holds), push them out by the lease and return what sending needs.
        rows = (
            await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id.in_(due.scalar_subquery()),
                    WebhookEndpoint.id == WebhookDelivery.endpoint_id,
                )
                .values(next_attempt_at=lease_end)
                .returning(*returned)
                .execution_options(synchronize_session=False)
            )
        ).all()
    else:
        # SQLite: RETURNING cannot name the FROM table; the transaction
        # holds the database write lock anyway.
        ids = list((await session.scalars(due)).all())
        if not ids:
            return []
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(next_attempt_at=lease_end)
            .execution_options(synchronize_session=False)
        )
        rows = (
            await session.execute(
                select(*returned)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.id.in_(ids))
            )
        ).all()
    return [
        Claim(
            delivery_id=row.id,
            endpoint_id=row.endpoint_id,
            event_id=row.event_id,
            url=row.url,
            body=row.body,
            secret_sealed=row.secret_sealed,
            previous_secret_sealed=row.previous_secret_sealed,
            previous_secret_valid_until=row.previous_secret_valid_until,
            leased_until=lease_end,
        )
        for row in sorted(rows, key=lambda row: row.id)
    ]
