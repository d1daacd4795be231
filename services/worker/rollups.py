"""Rollups in the database: load one agreement's facts, compute, store, announce.

The formulas are :mod:`shared.rollups.rules`; this module only reads source rows
and writes ``agreement_rollups`` / ``initiative_rollups``. Only the agreement
an event belongs to is recomputed, from its source rows, so replaying an
event changes nothing.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import delete, func, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.worker.dispatch import on_event
from shared.events import Aggregate, record_event
from shared.indicators.facts import load_indicator_facts
from shared.models import (
    Agreement,
    AgreementRollup,
    Engagement,
    Initiative,
    InitiativeRollup,
    Milestone,
    OutboxEvent,
)
from shared.rollups import rules

# Events that cannot change a rollup (some are the pipeline's own notices).
NO_ROLLUP_CHANGE = frozenset(
    {
        "agreement.health_changed",
        "agreement.expiring",
        "agreement.dormant",
        # Reports feed rollups only through the indicator.measured events of an acceptance.
        "report.opened",
        "report.updated",
        "report.submitted",
        "report.accepted",
        "report.returned",
        "report.due",
        "report.overdue",
    }
)


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


async def load_agreement_facts(
    session: AsyncSession, agreement_id: uuid.UUID
) -> rules.AgreementFacts | None:
    """The facts of one agreement; three indexed queries whatever the portfolio size."""
    agreement = (
        await session.execute(
            select(
                Agreement.id, Agreement.status, Agreement.objectives, Agreement.updated_at
            ).where(Agreement.id == agreement_id)
        )
    ).one_or_none()
    if agreement is None:
        return None
    initiatives = (
        await session.execute(
            select(
                Initiative.id,
                Initiative.status,
                Initiative.weight,
                Initiative.objective_ref,
                Initiative.updated_at,
            )
            .where(Initiative.agreement_id == agreement_id)
            .order_by(Initiative.id)
        )
    ).all()
    milestones: dict[uuid.UUID, list[rules.MilestoneFacts]] = {}
    for row in await session.execute(
        select(
            Milestone.id,
            Milestone.initiative_id,
            Milestone.title,
            Milestone.due_on,
            Milestone.status,
            Milestone.weight,
            Milestone.updated_at,
        )
        .where(Milestone.agreement_id == agreement_id)
        .order_by(Milestone.id)
    ):
        milestones.setdefault(row.initiative_id, []).append(
            rules.MilestoneFacts(
                id=row.id,
                title=row.title,
                due_on=row.due_on,
                status=row.status,
                weight=row.weight,
                updated_at=row.updated_at,
            )
        )
    indicators = await load_indicator_facts(session, agreement_id)
    engaged_at = await session.scalar(
        select(func.max(Engagement.updated_at)).where(Engagement.agreement_id == agreement_id)
    )
    return rules.AgreementFacts(
        id=agreement.id,
        status=agreement.status,
        objective_refs=tuple(objective["ref"] for objective in agreement.objectives or ()),
        initiatives=tuple(
            rules.InitiativeFacts(
                id=row.id,
                status=row.status,
                weight=row.weight,
                objective_ref=row.objective_ref,
                milestones=tuple(milestones.get(row.id, ())),
                updated_at=row.updated_at,
                indicators=tuple(indicators.get(row.id, ())),
            )
            for row in initiatives
        ),
        activity_at=(agreement.updated_at, engaged_at),
    )


def stored_body(body: dict[str, Any]) -> dict[str, Any]:
    return to_jsonable_python(body)


async def _lock_agreement(session: AsyncSession, agreement_id: uuid.UUID) -> None:
    """Serialise recomputations of one agreement (two events of it may run at once).

    PostgreSQL: a transaction-level advisory lock on the agreement. SQLite:
    every transaction already holds the database write lock.
    """
    if session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"accords.rollup:{agreement_id}"},
        )


async def recompute_agreement(
    session: AsyncSession, agreement_id: uuid.UUID, *, today: dt.date | None = None
) -> rules.AgreementRollup | None:
    """Recompute and store the rollups of one agreement and its initiatives.

    Records ``agreement.health_changed`` when the stored health changes.
    Returns None (and drops stored rollups) when the agreement is gone.
    """
    await _lock_agreement(session, agreement_id)
    return await _recompute_locked(session, agreement_id, today=today)


# When the reads of the latest committed recompute of each agreement began
# (time.monotonic(), this process only): see :func:`recompute_on_event`.
_recomputed_from: dict[uuid.UUID, float] = {}
_RECOMPUTED_FROM_LIMIT = 100_000


_PENDING_NOTES = "accords_recomputed_from"


def _note_recomputed(agreement_id: uuid.UUID, reads_began: float) -> None:
    if len(_recomputed_from) >= _RECOMPUTED_FROM_LIMIT:
        _recomputed_from.clear()
    if reads_began > _recomputed_from.get(agreement_id, float("-inf")):
        _recomputed_from[agreement_id] = reads_began


@sa_event.listens_for(Session, "after_commit")
def _notes_committed(session: Session) -> None:
    for agreement_id, reads_began in session.info.pop(_PENDING_NOTES, ()):
        _note_recomputed(agreement_id, reads_began)


@sa_event.listens_for(Session, "after_rollback")
def _notes_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING_NOTES, None)


async def _recompute_locked(
    session: AsyncSession, agreement_id: uuid.UUID, *, today: dt.date | None = None
) -> rules.AgreementRollup | None:
    # Noted once this transaction commits (a rollback forgets it).
    session.info.setdefault(_PENDING_NOTES, []).append((agreement_id, time.monotonic()))
    facts = await load_agreement_facts(session, agreement_id)
    if facts is None:
        await session.execute(
            delete(InitiativeRollup).where(InitiativeRollup.agreement_id == agreement_id)
        )
        await session.execute(
            delete(AgreementRollup).where(AgreementRollup.agreement_id == agreement_id)
        )
        return None
    today = today or today_utc()
    rollup = rules.agreement_rollup(facts, today)
    now = dt.datetime.now(dt.UTC)

    stored = await session.get(AgreementRollup, agreement_id)
    previous_health = stored.health if stored is not None else None
    body = stored_body(rollup.body())
    if stored is None:
        stored = AgreementRollup(agreement_id=agreement_id)
        session.add(stored)
    stored.health = rollup.health
    stored.last_activity_at = rollup.last_activity_at
    stored.computed_at = now
    stored.computed_on = today
    stored.achievement = rollup.indicators["achievement"]
    stored.body = body

    existing = {
        row.initiative_id: row
        for row in (
            await session.scalars(
                select(InitiativeRollup).where(InitiativeRollup.agreement_id == agreement_id)
            )
        ).all()
    }
    for initiative in rollup.initiatives:
        initiative_body = stored_body({**initiative.body(), "agreement_id": agreement_id})
        row = existing.pop(initiative.initiative_id, None)
        if row is None:
            session.add(
                InitiativeRollup(
                    initiative_id=initiative.initiative_id,
                    agreement_id=agreement_id,
                    health=initiative.health,
                    computed_at=now,
                    body=initiative_body,
                )
            )
        elif row.body != initiative_body:  # unchanged rows are left alone
            row.health = initiative.health
            row.computed_at = now
            row.body = initiative_body
    for row in existing.values():
        await session.delete(row)
    await session.flush()

    if previous_health is not None and previous_health != rollup.health:
        await record_event(
            session,
            event_type="agreement.health_changed",
            aggregate=Aggregate("agreement", agreement_id),
            data={
                **body,
                "computed_at": to_jsonable_python(now),
                "previous_health": previous_health,
            },
        )
    return rollup


def changes_a_rollup(event: OutboxEvent) -> bool:
    return event.aggregate_type == "agreement" and event.type not in NO_ROLLUP_CHANGE


@on_event("", name="rollups", when=changes_a_rollup)
async def recompute_on_event(session: AsyncSession, event: OutboxEvent) -> None:
    """Any change under an agreement recomputes that agreement's rollups."""
    if not changes_a_rollup(event):
        return
    # The event is committed (this transaction read it), and so is its change.
    known_at = time.monotonic()
    await _lock_agreement(session, event.aggregate_id)
    if _recomputed_from.get(event.aggregate_id, float("-inf")) > known_at:
        # A recompute of this agreement whose reads began after now has
        # committed: it saw this change (rollups come from source rows), and
        # recorded health_changed if the health moved. Nothing left to do.
        return
    await _recompute_locked(session, event.aggregate_id)
