"""Rollups in the database: load one agreement's facts, compute, store, announce.

The formulas are :mod:`shared.rollups.rules`; this module only reads source rows
and writes ``agreement_rollups`` / ``initiative_rollups`` (as rows, each with its
rendered JSON: see :func:`_writes`). Only the agreement
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
import functools
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import bindparam, delete, func, literal_column, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from shared import clock
from shared.clock import utcnow
from shared.db import dialect_name, insert_of, run_many, run_statement
from shared.events import Aggregate, record_event
from shared.indicators.facts import load_indicator_facts_of
from shared.models import (
    Agreement,
    AgreementRollup,
    Engagement,
    Initiative,
    InitiativeRollup,
    Milestone,
)
from shared.rendered import in_jsonb_order, rollup_json
from shared.rollups import rules
from shared.rollups.schemas import AgreementRollupPublic, InitiativeRollupPublic

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


def stored_body(body: dict[str, Any]) -> dict[str, Any]:
    """A rollup body as stored (and served): JSON-compatible values, its keys in
    the order the database gives them back (:func:`shared.rendered.in_jsonb_order`)."""
    return in_jsonb_order(to_jsonable_python(body))


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
        await run_statement(session, _DROP_INITIATIVE_ROLLUPS, {"ids": gone})
        await run_statement(session, _DROP_AGREEMENT_ROLLUPS, {"ids": gone})
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
                **_stored(AgreementRollupPublic, body, now),
            }
        )
        initiative_rows += [
            {
                "initiative_id": initiative.initiative_id,
                "agreement_id": agreement_id,
                "health": initiative.health,
                **_stored(
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
    await _write_rollups(session, present, agreement_rows, initiative_rows)
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


def _stored(public: Any, body: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """A rollup row's body columns: the body, when it was computed, its rendered JSON."""
    return {"computed_at": now, "body": body, "rendered": rollup_json(public, body, now)}


_DROP_AGREEMENT_ROLLUPS = delete(AgreementRollup).where(AgreementRollup.agreement_id.in_(_IDS))
_DROP_INITIATIVE_ROLLUPS = delete(InitiativeRollup).where(InitiativeRollup.agreement_id.in_(_IDS))
# The initiative rollups of these agreements whose initiative is gone.
_DROP_STALE_INITIATIVE_ROLLUPS = delete(InitiativeRollup).where(
    InitiativeRollup.agreement_id.in_(_IDS),
    InitiativeRollup.initiative_id.not_in(bindparam("keep", expanding=True)),
)


async def _write_rollups(
    session: AsyncSession,
    agreement_ids: list[uuid.UUID],
    agreement_rows: list[dict[str, Any]],
    initiative_rows: list[dict[str, Any]],
) -> None:
    """Store the rollups of these agreements, and drop those of their initiatives
    that are gone: as rows, with their rendered JSON (see :mod:`shared.rendered`),
    not through ORM objects. A recompute rewrites every rollup of its
    agreements; the ORM's loading, flushing and rendering again cost several
    times the statements. An initiative rollup whose body is unchanged is left
    alone (its ``computed_at`` too). On PostgreSQL all of it is one statement.
    """
    keep = [row["initiative_id"] for row in initiative_rows]
    stale = {"ids": agreement_ids, "keep": keep}
    if dialect_name(session) != "postgresql":
        await run_many(session, _upsert("sqlite", _AGREEMENT_ROLLUPS), agreement_rows)
        await run_many(session, _upsert("sqlite", _INITIATIVE_ROLLUPS), initiative_rows)
        await run_statement(session, _DROP_STALE_INITIATIVE_ROLLUPS, stale)
        return
    params = dict(stale)
    for prefix, rows in (("a", agreement_rows), ("i", initiative_rows)):
        for number, row in enumerate(rows):
            params.update((f"{prefix}{number}_{key}", value) for key, value in row.items())
    statement = _rollups_together(len(agreement_rows), len(initiative_rows))
    await run_statement(session, statement, params)


_AGREEMENT_ROLLUPS = AgreementRollup.__table__
_INITIATIVE_ROLLUPS = InitiativeRollup.__table__
# Each table's key, and whether an unchanged body is left alone.
_UPSERT_OF = {
    _AGREEMENT_ROLLUPS: ("agreement_id", False),
    _INITIATIVE_ROLLUPS: ("initiative_id", True),
}


def _upsert(dialect: str, table: Any, rows: int | None = None, prefix: str = "") -> Any:
    """The upsert of rollup rows: one row of parameters named after the columns,
    or (``rows``) that many, each column's named ``{prefix}{row number}_{column}``."""
    key, when_changed = _UPSERT_OF[table]
    columns = [column.key for column in table.columns]

    def row(name: Any) -> dict[str, Any]:
        return {column: bindparam(name(column), type_=table.c[column].type) for column in columns}

    statement = insert_of(dialect)(table)
    if rows is None:
        statement = statement.values(row(lambda column: column))
    else:
        statement = statement.values(
            [row(lambda column, n=n: f"{prefix}{n}_{column}") for n in range(rows)]
        )
    return statement.on_conflict_do_update(
        index_elements=[key],
        set_={column: statement.excluded[column] for column in columns if column != key},
        where=(table.c.body != statement.excluded.body) if when_changed else None,
    )


@functools.lru_cache(maxsize=256)
def _rollups_together(agreements: int, initiatives: int) -> Any:
    """PostgreSQL: the writes of :func:`_write_rollups` as data-modifying CTEs of
    one statement, built once per count of rows."""
    ctes = [
        _upsert("postgresql", _AGREEMENT_ROLLUPS, agreements, "a").cte("agreement_rollups_stored"),
        _DROP_STALE_INITIATIVE_ROLLUPS.cte("initiative_rollups_dropped"),
    ]
    if initiatives:
        upsert = _upsert("postgresql", _INITIATIVE_ROLLUPS, initiatives, "i")
        ctes.append(upsert.cte("initiative_rollups_stored"))
    return select(literal_column("1")).add_cte(*ctes)
