"""Rollups in the database: load one agreement's facts, compute, store, announce.

The formulas are :mod:`shared.rollups.rules`; this module only reads source rows
and writes ``agreement_rollups`` / ``initiative_rollups`` (as rows, each with its
rendered JSON: :mod:`shared.rollups.writes`). Only the agreement
asked for is recomputed, from its source rows, so doing it again changes
nothing.

Each committed recompute is noted in a :class:`RecomputeLog` (when its reads
began), so the worker's handler can skip an event that a later committed
recompute already saw. The notes are taken on commit by SQLAlchemy session
listeners, installed explicitly with :func:`install_recompute_listeners` (the
worker's start-up does it); importing this module installs nothing.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import bindparam, func, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from shared import clock
from shared.clock import utcnow
from shared.events import Aggregate, record_event
from shared.indicators.facts import load_indicator_facts_of
from shared.models import (
    Agreement,
    AgreementRollup,
    Engagement,
    Initiative,
    Milestone,
)
from shared.rollups import rules
from shared.rollups.schemas import AgreementRollupPublic, InitiativeRollupPublic
from shared.rollups.writes import body_columns, drop_rollups, stored_body, write_rollups
from shared.statements import run_statement

_PENDING_NOTES = "accords.recomputed_from"


class RecomputeLog:
    """When the reads of the latest committed recompute of each agreement began.

    Instants come from ``clock`` (monotonic, this process only). A recompute is
    noted when its transaction commits; a rollback forgets it.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, limit: int = 100_000):
        self.clock = clock
        self.limit = limit
        self._began: dict[uuid.UUID, float] = {}

    def now(self) -> float:
        return self.clock()

    def began(self, agreement_id: uuid.UUID) -> float:
        """When the reads of the latest committed recompute began (-inf if none)."""
        return self._began.get(agreement_id, float("-inf"))

    def covers(self, agreement_id: uuid.UUID, known_at: float) -> bool:
        """Whether a committed recompute began reading after ``known_at``."""
        return self.began(agreement_id) > known_at

    def note(self, agreement_id: uuid.UUID, reads_began: float) -> None:
        if len(self._began) >= self.limit:
            self._began.clear()
        if reads_began > self.began(agreement_id):
            self._began[agreement_id] = reads_began

    def pending(self, session: AsyncSession, agreement_id: uuid.UUID) -> None:
        """Note, once ``session``'s transaction commits, a recompute reading from now."""
        notes = session.info.setdefault(_PENDING_NOTES, [])
        notes.append((self, agreement_id, self.now()))


# The log recomputes write to unless given one.
recompute_log = RecomputeLog()


def _notes_committed(session: Session) -> None:
    for log, agreement_id, reads_began in session.info.pop(_PENDING_NOTES, ()):
        log.note(agreement_id, reads_began)


def _notes_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING_NOTES, None)


def install_recompute_listeners() -> None:
    """Take recompute notes on commit, in every session of this process (idempotent)."""
    for name, listener in (
        ("after_commit", _notes_committed),
        ("after_rollback", _notes_rolled_back),
    ):
        if not sa_event.contains(Session, name, listener):
            sa_event.listen(Session, name, listener)


def uninstall_recompute_listeners() -> None:
    for name, listener in (
        ("after_commit", _notes_committed),
        ("after_rollback", _notes_rolled_back),
    ):
        if sa_event.contains(Session, name, listener):
            sa_event.remove(Session, name, listener)


async def load_agreement_facts(
    session: AsyncSession, agreement_id: uuid.UUID
) -> rules.AgreementFacts | None:
    """The facts of one agreement; a few indexed queries whatever the portfolio size."""
    return (await load_facts_of(session, [agreement_id])).get(agreement_id)


# The statements of a recompute, built once with the agreements bound as ``ids``
# at each run: building them again for every recompute cost more CPU than running them.
_IDS = bindparam("ids", expanding=True)
_AGREEMENTS_OF = select(
    Agreement.id,
    Agreement.status,
    Agreement.objectives,
    Agreement.updated_at,
    select(func.max(Engagement.updated_at))
    .where(Engagement.agreement_id == Agreement.id)
    .scalar_subquery()
    .label("engaged_at"),
    # Not a fact: the health stored now, to tell whether a recompute moved it.
    select(AgreementRollup.health)
    .where(AgreementRollup.agreement_id == Agreement.id)
    .scalar_subquery()
    .label("stored_health"),
).where(Agreement.id.in_(_IDS))
_INITIATIVES_OF = (
    select(
        Initiative.id,
        Initiative.agreement_id,
        Initiative.status,
        Initiative.weight,
        Initiative.objective_ref,
        Initiative.updated_at,
    )
    .where(Initiative.agreement_id.in_(_IDS))
    .order_by(Initiative.id)
)
_MILESTONES_OF = (
    select(
        Milestone.id,
        Milestone.initiative_id,
        Milestone.title,
        Milestone.due_on,
        Milestone.status,
        Milestone.weight,
        Milestone.updated_at,
    )
    .where(Milestone.agreement_id.in_(_IDS))
    .order_by(Milestone.id)
)


async def load_facts_of(
    session: AsyncSession, agreement_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, rules.AgreementFacts]:
    """The facts of each of these agreements that exists, with the same four
    indexed queries for all of them."""
    facts, _health = await _facts_and_health(session, agreement_ids)
    return facts


async def _facts_and_health(
    session: AsyncSession, agreement_ids: Collection[uuid.UUID]
) -> tuple[dict[uuid.UUID, rules.AgreementFacts], dict[uuid.UUID, str]]:
    """:func:`load_facts_of`, and the health stored for each that has a rollup."""
    ids = list(agreement_ids)
    if not ids:
        return {}, {}
    agreements = await run_statement(session, _AGREEMENTS_OF, {"ids": ids})
    if not agreements:
        return {}, {}
    ids = [row.id for row in agreements]
    initiatives: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in await run_statement(session, _INITIATIVES_OF, {"ids": ids}):
        initiatives[row.agreement_id].append(row)
    milestones: dict[uuid.UUID, list[rules.MilestoneFacts]] = defaultdict(list)
    for row in await run_statement(session, _MILESTONES_OF, {"ids": ids}):
        milestones[row.initiative_id].append(
            rules.MilestoneFacts(
                id=row.id,
                title=row.title,
                due_on=row.due_on,
                status=row.status,
                weight=row.weight,
                updated_at=row.updated_at,
            )
        )
    indicators = await load_indicator_facts_of(session, ids)
    health = {row.id: row.stored_health for row in agreements if row.stored_health is not None}
    facts = {
        agreement.id: rules.AgreementFacts(
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
                for row in initiatives.get(agreement.id, ())
            ),
            activity_at=(agreement.updated_at, agreement.engaged_at),
        )
        for agreement in agreements
    }
    return facts, health


async def lock_agreement(session: AsyncSession, agreement_id: uuid.UUID) -> None:
    """Serialise recomputations of one agreement (two events of it may run at once).

    PostgreSQL: a transaction-level advisory lock on the agreement. SQLite:
    every transaction already holds the database write lock.
    """
    await lock_agreements(session, [agreement_id])


async def lock_agreements(session: AsyncSession, agreement_ids: Collection[uuid.UUID]) -> None:
    """:func:`lock_agreement` for several agreements, in one statement.

    The locks are taken in the order of their keys, the same in every
    transaction, so two transactions locking overlapping sets cannot deadlock.
    """
    if session.bind.dialect.name != "postgresql" or not agreement_ids:
        return
    keys = sorted({f"accords.rollup:{agreement_id}" for agreement_id in agreement_ids})
    if len(keys) == 1:
        await run_statement(session, _LOCK_ONE, {"key": keys[0]})
        return
    await run_statement(session, _LOCK_MANY, {"keys": keys})


_LOCK_ONE = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
_LOCK_MANY = text(
    "SELECT count(pg_advisory_xact_lock(hashtextextended(key, 0)))"
    " FROM (SELECT unnest(CAST(:keys AS text[])) AS key ORDER BY 1) AS keys"
)


async def recompute_agreement(
    session: AsyncSession,
    agreement_id: uuid.UUID,
    *,
    today: dt.date | None = None,
    log: RecomputeLog | None = None,
) -> rules.AgreementRollup | None:
    """Recompute and store the rollups of one agreement and its initiatives.

    Records ``agreement.health_changed`` when the stored health changes.
    Returns None (and drops stored rollups) when the agreement is gone.
    """
    await lock_agreement(session, agreement_id)
    return await recompute_locked(session, agreement_id, today=today, log=log)


async def recompute_locked(
    session: AsyncSession,
    agreement_id: uuid.UUID,
    *,
    today: dt.date | None = None,
    log: RecomputeLog | None = None,
) -> rules.AgreementRollup | None:
    """:func:`recompute_agreement` for a caller already holding :func:`lock_agreement`."""
    rollups = await recompute_all_locked(session, [agreement_id], today=today, log=log)
    return rollups.get(agreement_id)


async def recompute_all_locked(
    session: AsyncSession,
    agreement_ids: Collection[uuid.UUID],
    *,
    today: dt.date | None = None,
    log: RecomputeLog | None = None,
) -> dict[uuid.UUID, rules.AgreementRollup]:
    """:func:`recompute_locked` for several agreements (all locked by the caller),
    with the same few queries for all of them; the rollups of those that exist.

    Health changes are recorded in the order of the agreement ids.
    """
    ordered = sorted(set(agreement_ids), key=str)
    for agreement_id in ordered:
        (log or recompute_log).pending(session, agreement_id)
    facts, previous = await _facts_and_health(session, ordered)
    gone = [agreement_id for agreement_id in ordered if agreement_id not in facts]
    if gone:
        await drop_rollups(session, gone)
    if not facts:
        return {}
    today = today or clock.today()
    now = utcnow()
    present = [agreement_id for agreement_id in ordered if agreement_id in facts]
    rollups: dict[uuid.UUID, rules.AgreementRollup] = {}
    agreement_rows: list[dict[str, Any]] = []
    initiative_rows: list[dict[str, Any]] = []
    changed: list[tuple[uuid.UUID, dict[str, Any], str]] = []
    for agreement_id in present:
        rollup = rollups[agreement_id] = rules.agreement_rollup(facts[agreement_id], today)
        body = stored_body(rollup.body())
        agreement_rows.append(
            {
                "agreement_id": agreement_id,
                "health": rollup.health,
                "last_activity_at": rollup.last_activity_at,
                "computed_on": today,
                "achievement": rollup.indicators["achievement"],
                **body_columns(AgreementRollupPublic, body, now),
            }
        )
        initiative_rows += [
            {
                "initiative_id": initiative.initiative_id,
                "agreement_id": agreement_id,
                "health": initiative.health,
                **body_columns(
                    InitiativeRollupPublic,
                    stored_body({**initiative.body(), "agreement_id": agreement_id}),
                    now,
                ),
            }
            for initiative in rollup.initiatives
        ]
        previous_health = previous.get(agreement_id)
        if previous_health is not None and previous_health != rollup.health:
            changed.append((agreement_id, body, previous_health))
    await write_rollups(session, present, agreement_rows, initiative_rows)
    for agreement_id, body, previous_health in changed:
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
    return rollups
