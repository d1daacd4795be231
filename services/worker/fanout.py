"""The webhook fan-out handler: one delivery per enabled endpoint that wants the event.

In the consumer's transaction it adds one ``webhook_deliveries`` row per
enabled endpoint that wants the event (unique per endpoint and event, so a
redelivered event adds nothing). With a pump in this process the deliveries
are written leased to it and handed over once the transaction commits.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.worker.dispatch import batch_handler
from services.worker.pump import DeliveryPump, receiving_pump
from shared.db import utcnow
from shared.ids import uuid7
from shared.models import OutboxEvent, OutboxEventAudience, WebhookEndpoint
from shared.statements import run_statement
from shared.webhooks.deliveries import Claim, add_deliveries
from shared.webhooks.rules import delivery_body, event_matches

_TRANSACTION_STATE = "accords.webhooks"


@dataclass
class _TransactionState:
    """What fan-outs of one transaction share: the endpoints they read, and
    the deliveries to hand over once it commits."""

    endpoints: list[Any] | None = None
    handover: list[tuple[DeliveryPump, list[Claim]]] = field(default_factory=list)


def _transaction_state(session: AsyncSession) -> _TransactionState:
    state = session.info.get(_TRANSACTION_STATE)
    if state is None:
        _listen()
        state = session.info[_TRANSACTION_STATE] = _TransactionState()
    return state


def _listen() -> None:
    """Hand deliveries over when a transaction that fanned out ends: listeners on
    the Session class, installed once (one per session cost more than the fan-out)."""
    for name, listener in (("after_commit", _after_commit), ("after_rollback", _after_rollback)):
        if not sa_event.contains(Session, name, listener):
            sa_event.listen(Session, name, listener)


def _after_commit(session: Any) -> None:
    # Runs inside a commit: it must never raise, or the committed work would
    # look failed to its caller. A hand-over that cannot happen leaves the
    # deliveries to be claimed when their lease runs out.
    state = session.info.pop(_TRANSACTION_STATE, None)
    if state is not None:
        for pump, claims in state.handover:
            pump.accept_threadsafe(claims)


def _after_rollback(session: Any) -> None:
    session.info.pop(_TRANSACTION_STATE, None)


async def _organizations_concerned(
    session: AsyncSession, events: list[OutboxEvent]
) -> dict[uuid.UUID, set[uuid.UUID]]:
    """The organizations each event is about, for endpoints bound to an organization.

    Those the event was stored with (``outbox_event_audiences``, fixed when it
    was written: the organization, an agreement's parties, a collaboration's
    participants; what an organization-bound key's feed shows), read in one
    query for all the events; a webhook endpoint's own notices concern its
    organization.
    """
    concerned: dict[uuid.UUID, set[uuid.UUID]] = {event.id: set() for event in events}
    for event_id, organization_id in await session.execute(
        select(OutboxEventAudience.event_id, OutboxEventAudience.organization_id).where(
            OutboxEventAudience.event_id.in_(list(concerned))
        )
    ):
        concerned[event_id].add(organization_id)
    for event in events:
        value = (event.data or {}).get("organization_id")
        if event.aggregate_type == "webhook_endpoint" and value:
            with contextlib.suppress(ValueError):
                concerned[event.id].add(uuid.UUID(str(value)))
    return concerned


_ENABLED_ENDPOINTS = select(
    WebhookEndpoint.id,
    WebhookEndpoint.event_types,
    WebhookEndpoint.organization_id,
    WebhookEndpoint.url,
    WebhookEndpoint.secret_sealed,
    WebhookEndpoint.previous_secret_sealed,
    WebhookEndpoint.previous_secret_valid_until,
).where(WebhookEndpoint.enabled.is_(True))


async def fan_out_events(session: AsyncSession, events: list[OutboxEvent]) -> None:
    """Add a delivery of each event for every enabled endpoint that wants it,
    with one insert for all of them.

    With a pump in this process the deliveries are written leased to it and
    handed over after commit; otherwise they are due at once for any pump.
    """
    state = _transaction_state(session)
    if state.endpoints is None:
        # Once per transaction: the events of a batch share one read.
        state.endpoints = list(await run_statement(session, _ENABLED_ENDPOINTS, {}))
    pump = receiving_pump()
    now = utcnow()
    next_attempt_at = pump.lease_end(now) if pump is not None else now
    rows: list[dict[str, Any]] = []
    claims: dict[uuid.UUID, Claim] = {}
    wanted_by: dict[uuid.UUID, list[Any]] = {}
    for event in events:
        wanted = [
            row for row in state.endpoints if event_matches(event.type, row.event_types or [])
        ]
        if wanted:
            wanted_by[event.id] = wanted
    bound = [
        event
        for event in events
        if any(row.organization_id is not None for row in wanted_by.get(event.id, ()))
    ]
    concerned = await _organizations_concerned(session, bound) if bound else {}
    for event in events:
        wanted = wanted_by.get(event.id, [])
        if event.id in concerned:
            wanted = [
                row
                for row in wanted
                if row.organization_id is None or row.organization_id in concerned[event.id]
            ]
        if not wanted:
            continue
        body = delivery_body(
            event_type=event.type,
            occurred_at=event.occurred_at,
            sequence=event.sequence,
            data=event.data,
        )
        for endpoint in wanted:
            delivery_id = uuid7()
            rows.append(
                {
                    "id": delivery_id,
                    "endpoint_id": endpoint.id,
                    "event_id": event.id,
                    "event_type": event.type,
                    "body": body,
                    "status": "pending",
                    "scheduled_attempts": 0,
                    "next_attempt_at": next_attempt_at,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            claims[delivery_id] = Claim(
                delivery_id=delivery_id,
                endpoint_id=endpoint.id,
                event_id=event.id,
                url=endpoint.url,
                body=body,
                secret_sealed=endpoint.secret_sealed,
                previous_secret_sealed=endpoint.previous_secret_sealed,
                previous_secret_valid_until=endpoint.previous_secret_valid_until,
                leased_until=next_attempt_at,
            )
    if not rows:
        return
    if pump is None:
        await add_deliveries(session, rows)
        return
    # Only the rows written now are handed over (a redelivered event adds none).
    inserted = await add_deliveries(session, rows, returning=True)
    if inserted:
        state.handover.append((pump, [claims[delivery_id] for delivery_id in sorted(inserted)]))


async def fan_out(session: AsyncSession, event: OutboxEvent) -> None:
    """:func:`fan_out_events` for one event."""
    await fan_out_events(session, [event])


# The consumer name of its processed_events rows: keep it stable.
FAN_OUT = batch_handler(fan_out_events, "", name="webhooks.fan_out")
