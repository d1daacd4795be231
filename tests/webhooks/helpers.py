"""Driving fan-out and delivery directly, without a broker."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.worker.fanout import fan_out
from services.worker.pump import deliver_due
from services.worker.sender import WebhookSender
from shared.models import OutboxEvent

# Enough rounds for every schedule the tests use; a bound, not a timing.
MAX_ROUNDS = 20


async def fan_out_all(app: Any) -> None:
    """Run the fan-out handler over every event in the outbox, as the consumer would."""
    async with app.state.sessionmaker() as session:
        events = (await session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))).all()
        for event in events:
            await fan_out(session, event)
        await session.commit()


async def deliver_until_idle(app: Any, sender: WebhookSender) -> int:
    """Send due deliveries until none is due; returns how many sends were made."""
    sent = 0
    for _ in range(MAX_ROUNDS):
        batch = await deliver_due(app.state.sessionmaker, sender)
        if not batch:
            break
        sent += batch
    return sent
