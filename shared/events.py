"""The event catalogue and the outbox writer.

Every change calls :func:`record_change` inside its own transaction: the
outbox row (what consumers and webhooks see) and the audit row (who did it)
commit or roll back together with the change.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Rows, dialect_name, insert_of, insert_together, run_statement
from shared.feed.audience import audience_of, members_query, read_members
from shared.ids import uuid7
from shared.models import AggregateSequence, AuditEntry, OutboxEvent, OutboxEventAudience

_SEQUENCES = AggregateSequence.__table__
_EVENTS = OutboxEvent.__table__
_AUDIENCES = OutboxEventAudience.__table__
_AUDIT = AuditEntry.__table__

EVENT_TYPES: tuple[str, ...] = (
    "organization.created",
    "organization.updated",
    "organization.deleted",
    "agreement.created",
    "agreement.updated",
    "agreement.deleted",
    "agreement.status_changed",
    "agreement.health_changed",
    "agreement.expiring",
    "agreement.dormant",
    "agreement.party_act_recorded",
    "agreement.party_act_deleted",
    "agreement.amended",
    "amendment.created",
    "amendment.updated",
    "amendment.deleted",
    "initiative.created",
    "initiative.updated",
    "initiative.deleted",
    "initiative.status_changed",
    "milestone.created",
    "milestone.updated",
    "milestone.deleted",
    "milestone.completed",
    "milestone.overdue",
    "engagement.recorded",
    "engagement.updated",
    "engagement.deleted",
    "research_collaboration.created",
    "research_collaboration.updated",
    "research_collaboration.deleted",
    "research_collaboration.status_changed",
    "research_collaboration.output_added",
    "webhook_endpoint.disabled",
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "agreement.focal_points_changed",
    "document.added",
    "document.updated",
    "document.deleted",
    "indicator.created",
    "indicator.updated",
    "indicator.deleted",
    "indicator.measured",
    "report.opened",
    "report.updated",
    "report.submitted",
    "report.accepted",
    "report.returned",
    "report.due",
    "report.overdue",
)


@dataclass(frozen=True)
class Actor:
    """Who is making a change: an api key in a request, or the system itself."""

    api_key_id: uuid.UUID | None
    request_id: str | None = None

    @classmethod
    def system(cls, request_id: str | None = None) -> Actor:
        return cls(api_key_id=None, request_id=request_id)


@dataclass(frozen=True)
class Aggregate:
    """The stream an event belongs to; its sequence increases by one per event."""

    type: str
    id: uuid.UUID


async def next_sequence(session: AsyncSession, aggregate: Aggregate) -> int:
    """Hand out the aggregate's next sequence number.

    An upsert on the counter row: the row lock it takes serialises concurrent
    writers of the same aggregate until their transactions end.
    """
    values = {"aggregate_type": aggregate.type, "aggregate_id": aggregate.id}
    rows = await run_statement(session, _next_sequence_of(dialect_name(session)), values)
    return int(rows[0][0])


@functools.cache
def _next_sequence_of(dialect: str) -> Any:
    """The upsert of :func:`next_sequence` for the dialect, built once."""
    return (
        insert_of(dialect)(AggregateSequence)
        .values(
            aggregate_type=bindparam("aggregate_type"),
            aggregate_id=bindparam("aggregate_id"),
            last_sequence=1,
        )
        .on_conflict_do_update(
            index_elements=[AggregateSequence.aggregate_type, AggregateSequence.aggregate_id],
            set_={"last_sequence": AggregateSequence.last_sequence + 1},
        )
        .returning(AggregateSequence.last_sequence)
    )


@functools.cache
def _sequence_with_members(members_of: Any) -> Any:
    """PostgreSQL: :func:`next_sequence`'s upsert and the members ``members_of``
    selects (an array, null for none), one statement built once per query."""
    upsert = _next_sequence_of("postgresql").cte("next_sequence")
    members = members_of.with_only_columns(
        func.array_agg(members_of.selected_columns[0])
    ).scalar_subquery()
    return select(upsert.c.last_sequence, members.label("members"))


async def record_event(
    session: AsyncSession, *, event_type: str, aggregate: Aggregate, data: dict[str, Any]
) -> uuid.UUID:
    """Write one event (not a change: no audit row) to the outbox in the session's
    transaction; its id."""
    event_id, writes = await _event_writes(
        session, event_type=event_type, aggregate=aggregate, data=data, new_aggregate=False
    )
    await insert_together(session, writes)
    return event_id


async def _event_writes(
    session: AsyncSession,
    *,
    event_type: str,
    aggregate: Aggregate,
    data: dict[str, Any],
    new_aggregate: bool,
) -> tuple[uuid.UUID, list[Rows]]:
    """The rows of one event: the outbox row, its audience and (for a new
    aggregate, whose sequence starts at 1) the aggregate's counter."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    writes: list[Rows] = []
    members_of = members_query(event_type=event_type, aggregate_type=aggregate.type)
    members: set[uuid.UUID] | None = None  # None: not read yet
    if new_aggregate:
        sequence = 1
        counter = {"aggregate_type": aggregate.type, "aggregate_id": aggregate.id}
        writes.append((_SEQUENCES, [{**counter, "last_sequence": sequence}]))
    elif members_of is not None and dialect_name(session) == "postgresql":
        # The next sequence and the members of the aggregate in one round trip.
        values = {"aggregate_type": aggregate.type, "aggregate_id": aggregate.id}
        [(sequence, found)] = await run_statement(
            session, _sequence_with_members(members_of), values
        )
        members = set(found or ())
    else:
        sequence = await next_sequence(session, aggregate)
    if members is None:
        members = await read_members(session, members_of, aggregate.id)
    audience = audience_of(
        event_type=event_type,
        aggregate_type=aggregate.type,
        aggregate_id=aggregate.id,
        data=data,
        members=members,
    )
    event_id = uuid7()
    event = {
        "id": event_id,
        "type": event_type,
        "aggregate_type": aggregate.type,
        "aggregate_id": aggregate.id,
        "sequence": sequence,
        "occurred_at": dt.datetime.now(dt.UTC),
        "data": data,
    }
    writes.append((_EVENTS, [event]))
    writes.append(
        (
            _AUDIENCES,
            [
                {"event_id": event_id, "organization_id": organization_id}
                for organization_id in sorted(audience)
            ],
        )
    )
    session.info.setdefault("accords_new_events", []).append(event_id)
    return event_id, writes


class AuditedChange(TypedDict):
    """What an audit row says of a change: who, what, to which entity, from and to."""

    actor: Actor
    action: str
    entity_type: str
    entity_id: uuid.UUID
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def _audit_row(change: AuditedChange) -> dict[str, Any]:
    actor = change["actor"]
    return {
        "id": uuid7(),
        "at": dt.datetime.now(dt.UTC),
        "api_key_id": actor.api_key_id,
        "request_id": actor.request_id,
        "action": change["action"],
        "entity_type": change["entity_type"],
        "entity_id": change["entity_id"],
        "before": change["before"],
        "after": change["after"],
    }


def record_audit(session: AsyncSession, **change: Unpack[AuditedChange]) -> AuditEntry:
    """The audit row of a change that is not an event (flushed with the session)."""
    entry = AuditEntry(**_audit_row(change))
    session.add(entry)
    return entry


async def record_change(
    session: AsyncSession,
    *,
    actor: Actor,
    event_type: str,
    aggregate: Aggregate,
    entity_id: uuid.UUID,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    extra: dict[str, Any] | None = None,
    rows: Sequence[Rows] = (),
    new_aggregate: bool = False,
) -> uuid.UUID:
    """Write the outbox event and the audit row of one change; the event's id.

    ``before``/``after`` are the resource as the API returns it; the event's
    ``data`` is ``after`` (or ``before`` for a deletion) plus ``extra``.
    ``rows``: the change's own rows, when the change inserts them as rows
    rather than through ORM objects; they are written in the same statement
    (before the event's, where statements run one by one). ``new_aggregate``:
    the change starts the aggregate's stream (its id is new), so its
    sequence is 1 without asking the counter.
    """
    entity_type, _, action = event_type.partition(".")
    audit = _audit_row(
        AuditedChange(
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=before,
            after=after,
        )
    )
    data = dict(after if after is not None else before or {})
    if extra:
        data.update(extra)
    event_id, writes = await _event_writes(
        session, event_type=event_type, aggregate=aggregate, data=data, new_aggregate=new_aggregate
    )
    await insert_together(session, [*rows, *writes, (_AUDIT, [audit])])
    return event_id


def new_event_ids(session: AsyncSession) -> list[uuid.UUID]:
    """Ids of the events this session wrote, for handing to the broker after commit."""
    return list(session.info.get("accords_new_events", []))


def forget_new_events(session: AsyncSession) -> None:
    """After a rollback: the events written so far are gone, nothing to hand over."""
    session.info.pop("accords_new_events", None)
