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

from sqlalchemy import bindparam, func, literal_column, select, union
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import dialect_name, insert_of
from shared.feed.audience import audience_of, members_query, read_members
from shared.ids import uuid7
from shared.models import AggregateSequence, AuditEntry, OutboxEvent, OutboxEventAudience
from shared.statements import (
    Rows,
    Shape,
    insert_together,
    run_statement,
    shape_of,
    together_params,
    values_ctes,
)

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


async def record_event(
    session: AsyncSession, *, event_type: str, aggregate: Aggregate, data: dict[str, Any]
) -> uuid.UUID:
    """Write one event (not a change: no audit row) to the outbox in the session's
    transaction; its id."""
    return await _write_event(
        session, event_type=event_type, aggregate=aggregate, data=data, new_aggregate=False
    )


async def _write_event(
    session: AsyncSession,
    *,
    event_type: str,
    aggregate: Aggregate,
    data: dict[str, Any],
    new_aggregate: bool,
    rows: Sequence[Rows] = (),
    audit: dict[str, Any] | None = None,
) -> uuid.UUID:
    """Write one event: the outbox row, its audience and its sequence (for a new
    aggregate, whose sequence starts at 1, the aggregate's counter), with the
    change's own ``rows`` before them and its ``audit`` row after; the event's id.

    On PostgreSQL all of it is one statement: the counter's upsert hands the
    sequence to the event row, and the audience rows are the members the
    database holds (read in the same statement) and the ones the data names.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    members_of = members_query(event_type=event_type, aggregate_type=aggregate.type)
    event_id = uuid7()
    event = {
        "id": event_id,
        "type": event_type,
        "aggregate_type": aggregate.type,
        "aggregate_id": aggregate.id,
        "occurred_at": dt.datetime.now(dt.UTC),
        "data": data,
    }
    session.info.setdefault("accords_new_events", []).append(event_id)
    before = [(table, table_rows) for table, table_rows in rows if table_rows]
    after = [(_AUDIT, [audit])] if audit is not None else []
    if not new_aggregate and dialect_name(session) == "postgresql":
        named = audience_of(
            event_type=event_type,
            aggregate_type=aggregate.type,
            aggregate_id=aggregate.id,
            data=data,
            members=set(),
        )
        statement = _event_statement(shape_of(before), members_of, shape_of(after))
        params = {
            **together_params(before, "b"),
            **together_params(after, "a"),
            **{f"event_{key}": value for key, value in event.items()},
            "aggregate_type": aggregate.type,
            "aggregate_id": aggregate.id,
            "named": sorted(named),
        }
        await run_statement(session, statement, params)
        return event_id
    counter: list[Rows] = []
    if new_aggregate:
        sequence = 1
        values = {"aggregate_type": aggregate.type, "aggregate_id": aggregate.id}
        counter.append((_SEQUENCES, [{**values, "last_sequence": sequence}]))
    else:
        sequence = await next_sequence(session, aggregate)
    audience = audience_of(
        event_type=event_type,
        aggregate_type=aggregate.type,
        aggregate_id=aggregate.id,
        data=data,
        members=await read_members(session, members_of, aggregate.id),
    )
    audiences = [
        {"event_id": event_id, "organization_id": organization_id}
        for organization_id in sorted(audience)
    ]
    await insert_together(
        session,
        [
            *before,
            *counter,
            (_EVENTS, [{**event, "sequence": sequence}]),
            (_AUDIENCES, audiences),
            *after,
        ],
    )
    return event_id


_EVENT_COLUMNS = ("id", "type", "aggregate_type", "aggregate_id", "occurred_at", "data")


@functools.lru_cache(maxsize=256)
def _event_statement(before: Shape, members_of: Any | None, after: Shape) -> Any:
    """PostgreSQL: :func:`_write_event`'s one statement for an aggregate that has
    a counter, built once per shape of the rows around the event and per
    members query. The counter's upsert (its row lock serialises the
    aggregate's writers) gives the event row its sequence."""
    sequence = _next_sequence_of("postgresql").cte("next_sequence")
    event_values = select(
        *(bindparam(f"event_{name}", type_=_EVENTS.c[name].type) for name in _EVENT_COLUMNS),
        sequence.c.last_sequence,
    )
    event = (
        postgresql.insert(_EVENTS)
        .from_select([*_EVENT_COLUMNS, "sequence"], event_values)
        .cte("event")
    )
    organization_id = _AUDIENCES.c.organization_id
    named = select(
        func.unnest(bindparam("named", type_=postgresql.ARRAY(organization_id.type))).label(
            "organization_id"
        )
    )
    members = named if members_of is None else union(members_of, named)
    audience_ids = members.subquery("members")
    audience = (
        postgresql.insert(_AUDIENCES)
        .from_select(
            ["event_id", "organization_id"],
            select(
                bindparam("event_id", type_=_AUDIENCES.c.event_id.type),
                audience_ids.c[0],
            ),
        )
        .cte("audience")
    )
    return select(literal_column("1")).add_cte(
        sequence, *values_ctes(before, "b"), event, audience, *values_ctes(after, "a")
    )


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
    return await _write_event(
        session,
        event_type=event_type,
        aggregate=aggregate,
        data=data,
        new_aggregate=new_aggregate,
        rows=rows,
        audit=audit,
    )


def new_event_ids(session: AsyncSession) -> list[uuid.UUID]:
    """Ids of the events this session wrote, for handing to the broker after commit."""
    return list(session.info.get("accords_new_events", []))


def forget_new_events(session: AsyncSession) -> None:
    """After a rollback: the events written so far are gone, nothing to hand over."""
    session.info.pop("accords_new_events", None)
