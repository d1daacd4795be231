"""Agreement use cases: registry, parties and the lifecycle.

Functions flush; the request boundary commits. Each change records its
outbox event and audit row through :func:`shared.events.record_change`.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from shared.agreements.schemas import (
    AgreementCreate,
    AgreementPublic,
    AgreementUpdate,
    Party,
    TransitionRequest,
    validate_dates,
)
from shared.db import driver_connection
from shared.errors import (
    Conflict,
    InvalidReference,
    InvalidTransition,
    NotFound,
    TransitionConditionFailed,
)
from shared.events import Actor, Aggregate, record_change
from shared.ids import uuid7
from shared.initiatives import agreement_rules
from shared.lifecycle import AgreementFacts, allowed_agreement_targets, missing_conditions
from shared.models import Agreement, AgreementParty, AgreementStatusChange, Organization
from shared.reports.schedule import check_reporting, check_reporting_change, stored_reporting

# Parties and objectives are the terms of the agreement: fixed once it is signed.
EDITABLE_TERMS_STATUSES = ("draft", "negotiation")
DELETABLE_STATUSES = ("draft", "negotiation", "cancelled")


def as_public(agreement: Agreement) -> dict[str, Any]:
    return AgreementPublic.model_validate(agreement).model_dump(mode="json", by_alias=True)


def aggregate_of(agreement_id: uuid.UUID) -> Aggregate:
    return Aggregate("agreement", agreement_id)


def visible_to(organization_id: uuid.UUID | None) -> ColumnElement[bool] | None:
    """The condition limiting agreements to those an organization is party to."""
    if organization_id is None:
        return None
    return exists().where(
        AgreementParty.agreement_id == Agreement.id,
        AgreementParty.organization_id == organization_id,
    )


def under_visible_agreements(
    query: Select[Any], agreement_id: Any, organization_id: uuid.UUID | None
) -> Select[Any]:
    """Limit a query on something under an agreement (its ``agreement_id``
    column) to the agreements an organization-bound caller may see."""
    condition = visible_to(organization_id)
    if condition is None:
        return query
    return query.join(Agreement, Agreement.id == agreement_id).where(condition)


async def get_agreement(
    session: AsyncSession,
    agreement_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None = None,
    for_update: bool = False,
) -> Agreement:
    """The agreement with its parties; 404 also when the caller may not see it."""
    # One statement (joined loading): a consistent read even without a transaction.
    query = (
        select(Agreement).options(joinedload(Agreement.parties)).where(Agreement.id == agreement_id)
    )
    condition = visible_to(organization_id)
    if condition is not None:
        query = query.where(condition)
    if for_update:
        query = query.with_for_update(of=Agreement)
    agreement = (await session.scalars(query)).unique().one_or_none()
    if agreement is None:
        raise NotFound(f"Agreement {agreement_id} does not exist.")
    return agreement


# The hottest read of the API, on PostgreSQL: the row and its parties in one
# prepared statement on the session's connection, without the ORM's per-row
# bookkeeping. Columns must match AgreementPublic; the API tests run every
# agreement read through this path on PostgreSQL and through the ORM on SQLite.
_PUBLIC_AGREEMENT_SQL = """
SELECT a.id, a.reference, a.title, a.instrument_type, a.legal_character, a.summary,
       a.focus_areas, a.objectives, a.signed_on, a.signed_at, a.effective_from,
       a.expires_on, a.reporting, a.status, a.version, a.created_at, a.updated_at,
       COALESCE((SELECT json_agg(json_build_object('organization_id', p.organization_id,
                                                   'role', p.role) ORDER BY p.position)
                 FROM agreement_parties p WHERE p.agreement_id = a.id), '[]') AS parties
FROM agreements a
WHERE a.id = $1
  AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM agreement_parties v
                                    WHERE v.agreement_id = a.id AND v.organization_id = $2))
"""


async def read_public_agreement(
    session: AsyncSession, agreement_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> AgreementPublic:
    """The agreement as the API shows it; 404 also when the caller may not see it."""
    if session.bind.dialect.name != "postgresql":
        agreement = await get_agreement(session, agreement_id, organization_id=organization_id)
        return AgreementPublic.model_validate(agreement)
    async with driver_connection(session) as connection:
        agreement = await fetch_public_agreement(connection, agreement_id, organization_id)
    if agreement is None:
        raise NotFound(f"Agreement {agreement_id} does not exist.")
    return agreement


async def fetch_public_agreement(
    connection: Any, agreement_id: uuid.UUID, organization_id: uuid.UUID | None
) -> AgreementPublic | None:
    """The PostgreSQL read behind :func:`read_public_agreement`, on an asyncpg connection."""
    record = await connection.fetchrow(_PUBLIC_AGREEMENT_SQL, agreement_id, organization_id)
    if record is None:
        return None
    values = dict(record)
    for field in ("focus_areas", "objectives", "parties", "reporting"):
        if isinstance(values[field], str):
            values[field] = json.loads(values[field])
    return AgreementPublic.model_validate(values)


def list_query(
    *,
    organization_scope: uuid.UUID | None,
    status: str | None = None,
    organization_id: uuid.UUID | None = None,
    country: str | None = None,
    instrument_type: str | None = None,
    focus_area: str | None = None,
    q: str | None = None,
    expires_before: dt.date | None = None,
    dialect: str = "postgresql",
    query: Select[Any] | None = None,
) -> Select[Any]:
    """The agreements list with its filters: ORM entities with their parties,
    or ``query`` (any select from ``agreements``) with the same filters."""
    if query is None:
        query = select(Agreement).options(selectinload(Agreement.parties))
    scope_condition = visible_to(organization_scope)
    if scope_condition is not None:
        query = query.where(scope_condition)
    if status:
        query = query.where(Agreement.status == status)
    if organization_id:
        query = query.where(
            exists().where(
                AgreementParty.agreement_id == Agreement.id,
                AgreementParty.organization_id == organization_id,
            )
        )
    if country:
        query = query.where(
            exists().where(
                AgreementParty.agreement_id == Agreement.id,
                AgreementParty.organization_id == Organization.id,
                Organization.country == country.upper(),
            )
        )
    if instrument_type:
        query = query.where(Agreement.instrument_type == instrument_type)
    if focus_area:
        query = query.where(_has_focus_area(focus_area, dialect))
    if q:
        needle = f"%{q.lower()}%"
        query = query.where(
            or_(
                func.lower(Agreement.reference).like(needle),
                func.lower(Agreement.title).like(needle),
                func.lower(Agreement.summary).like(needle),
            )
        )
    if expires_before:
        query = query.where(Agreement.expires_on < expires_before)
    return query


def _has_focus_area(focus_area: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return Agreement.focus_areas.op("@>")(func.jsonb_build_array(focus_area))
    each = func.json_each(Agreement.focus_areas).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == focus_area))


# The page as the API shows it, in one statement: the columns of AgreementPublic
# and the parties aggregated in order (PostgreSQL; the ORM loads them elsewhere).
_PUBLIC_COLUMNS = (
    Agreement.id,
    Agreement.reference,
    Agreement.title,
    Agreement.instrument_type,
    Agreement.legal_character,
    Agreement.summary,
    Agreement.focus_areas,
    Agreement.objectives,
    Agreement.signed_on,
    Agreement.signed_at,
    Agreement.effective_from,
    Agreement.expires_on,
    Agreement.reporting,
    Agreement.status,
    Agreement.version,
    Agreement.created_at,
    Agreement.updated_at,
    func.coalesce(
        select(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_object(
                        "organization_id",
                        AgreementParty.organization_id,
                        "role",
                        AgreementParty.role,
                    ),
                    AgreementParty.position,
                )
            )
        )
        .where(AgreementParty.agreement_id == Agreement.id)
        .scalar_subquery(),
        literal_column("'[]'::json"),
    ).label("parties"),
)


async def list_agreements(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int, **filters: Any
) -> list[Agreement] | list[AgreementPublic]:
    """Up to ``limit + 1`` agreements after ``after``, in creation order.

    On PostgreSQL they come as the API shows them, from one statement without
    loading ORM objects (most of a page's cost otherwise); elsewhere as ORM
    objects with their parties.
    """
    dialect = session.bind.dialect.name
    columns = select(*_PUBLIC_COLUMNS) if dialect == "postgresql" else None
    query = list_query(dialect=dialect, query=columns, **filters)
    if after is not None:
        query = query.where(Agreement.id > after)
    query = query.order_by(Agreement.id).limit(limit + 1)
    if columns is None:
        return list((await session.scalars(query)).all())
    rows = (await session.execute(query)).mappings().all()
    return [AgreementPublic.model_validate(_decoded(dict(row))) for row in rows]


def _decoded(values: dict[str, Any]) -> dict[str, Any]:
    # json (not jsonb) may come back as text, depending on the driver's codecs.
    if isinstance(values["parties"], str):
        values["parties"] = json.loads(values["parties"])
    return values


async def _check_parties_exist(session: AsyncSession, parties: list[Party]) -> None:
    wanted = {party.organization_id for party in parties}
    found = set(
        (await session.scalars(select(Organization.id).where(Organization.id.in_(wanted)))).all()
    )
    missing = [str(organization_id) for organization_id in wanted - found]
    if missing:
        raise InvalidReference(
            f"No organization with id {', '.join(sorted(missing))}.",
            errors=[
                {
                    "loc": ["body", "parties", index, "organization_id"],
                    "msg": "no such organization",
                }
                for index, party in enumerate(parties)
                if str(party.organization_id) in missing
            ],
        )


async def _check_reference_free(
    session: AsyncSession, reference: str, *, except_id: uuid.UUID | None = None
) -> None:
    query = select(Agreement.id).where(Agreement.reference == reference)
    if except_id is not None:
        query = query.where(Agreement.id != except_id)
    if await session.scalar(query) is not None:
        raise Conflict(f"An agreement with reference '{reference}' already exists.")


def _party_rows(parties: list[Party]) -> list[AgreementParty]:
    return [
        AgreementParty(organization_id=party.organization_id, role=party.role, position=index)
        for index, party in enumerate(parties)
    ]


async def create_agreement(
    session: AsyncSession, *, actor: Actor, payload: AgreementCreate
) -> Agreement:
    await _check_reference_free(session, payload.reference)
    await _check_parties_exist(session, payload.parties)
    check_reporting(payload.reporting, (party.organization_id for party in payload.parties))
    agreement = Agreement(
        id=uuid7(),
        reference=payload.reference,
        title=payload.title,
        instrument_type=payload.instrument_type,
        legal_character=payload.legal_character,
        summary=payload.summary,
        focus_areas=list(payload.focus_areas),
        objectives=[objective.model_dump() for objective in payload.objectives],
        signed_on=payload.signed_on,
        signed_at=payload.signed_at,
        effective_from=payload.effective_from,
        expires_on=payload.expires_on,
        status="draft",
        parties=_party_rows(payload.parties),
        reporting=stored_reporting(payload.reporting),
    )
    session.add(agreement)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="agreement.created",
        aggregate=aggregate_of(agreement.id),
        entity_id=agreement.id,
        before=None,
        after=as_public(agreement),
    )
    return agreement


async def update_agreement(
    session: AsyncSession, *, actor: Actor, agreement: Agreement, payload: AgreementUpdate
) -> Agreement:
    changes = payload.changes()
    if not changes:
        return agreement
    terms_changed = [field for field in ("parties", "objectives") if field in changes]
    if terms_changed and agreement.status not in EDITABLE_TERMS_STATUSES:
        raise Conflict(
            f"{' and '.join(terms_changed)} cannot change once the agreement is "
            f"{agreement.status}; they are fixed from signing on."
        )
    validate_or_422(
        changes.get("effective_from", agreement.effective_from),
        changes.get("expires_on", agreement.expires_on),
    )
    if "reference" in changes:
        await _check_reference_free(session, changes["reference"], except_id=agreement.id)
    if payload.parties is not None:
        await _check_parties_exist(session, payload.parties)
        await agreement_rules.ensure_leads_remain_parties(
            session,
            agreement_id=agreement.id,
            kept_party_ids=[party.organization_id for party in payload.parties],
        )
    if payload.objectives is not None:
        await agreement_rules.ensure_objectives_unused(
            session,
            agreement_id=agreement.id,
            kept_refs=[objective.ref for objective in payload.objectives],
        )
    check_reporting_change(agreement, payload)
    before = as_public(agreement)
    if payload.parties is not None:
        # Delete the old rows before anything else: a re-added organization
        # would otherwise collide on the primary key, and flushing column
        # changes here too would bump the version twice.
        agreement.parties.clear()
        await session.flush()
        agreement.parties.extend(_party_rows(payload.parties))
    for field in ("reference", "title", "instrument_type", "legal_character", "summary"):
        if field in changes:
            setattr(agreement, field, changes[field])
    for field in ("signed_on", "signed_at", "effective_from", "expires_on", "focus_areas"):
        if field in changes:
            setattr(agreement, field, changes[field])
    if payload.objectives is not None:
        agreement.objectives = [objective.model_dump() for objective in payload.objectives]
    if "reporting" in changes:
        agreement.reporting = stored_reporting(payload.reporting)
    agreement.updated_at = dt.datetime.now(dt.UTC)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="agreement.updated",
        aggregate=aggregate_of(agreement.id),
        entity_id=agreement.id,
        before=before,
        after=as_public(agreement),
    )
    return agreement


def validate_or_422(effective_from: dt.date | None, expires_on: dt.date | None) -> None:
    try:
        validate_dates(effective_from, expires_on)
    except ValueError as exc:
        raise InvalidReference(
            str(exc), errors=[{"loc": ["body", "expires_on"], "msg": str(exc)}]
        ) from exc


async def delete_agreement(session: AsyncSession, *, actor: Actor, agreement: Agreement) -> None:
    if agreement.status not in DELETABLE_STATUSES:
        raise Conflict(
            f"A {agreement.status} agreement is a record and cannot be deleted; "
            "move it to completed, terminated or expired instead.",
        )
    await agreement_rules.ensure_nothing_recorded_under(session, agreement_id=agreement.id)
    before = as_public(agreement)
    await session.delete(agreement)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="agreement.deleted",
        aggregate=aggregate_of(agreement.id),
        entity_id=agreement.id,
        before=before,
        after=None,
    )


async def transition_agreement(
    session: AsyncSession,
    *,
    actor: Actor,
    agreement: Agreement,
    request: TransitionRequest,
) -> Agreement:
    """Move an agreement along its lifecycle, recording history and the event."""
    allowed = allowed_agreement_targets(agreement.status)
    if request.to not in allowed:
        raise InvalidTransition(
            f"An agreement cannot move from {agreement.status} to {request.to}.",
            allowed=list(allowed),
        )
    facts = AgreementFacts(
        party_roles=tuple(party.role for party in agreement.parties),
        signed_on=agreement.signed_on,
    )
    missing = missing_conditions(request.to, facts, reason=request.reason, on=request.on)
    if missing:
        raise TransitionConditionFailed(
            f"Moving to {request.to} needs {'; and '.join(missing)}.", missing=missing
        )
    return await apply_transition(
        session,
        actor=actor,
        agreement=agreement,
        to=request.to,
        reason=request.reason,
        on=request.on,
    )


async def apply_transition(
    session: AsyncSession,
    *,
    actor: Actor,
    agreement: Agreement,
    to: str,
    reason: str | None,
    on: dt.date | None,
) -> Agreement:
    """Record a move already checked against the rules (also used by the sweep)."""
    before = as_public(agreement)
    previous = agreement.status
    if to == "signed" and on is not None and agreement.signed_on is None:
        agreement.signed_on = on
    if to == "active" and on is not None and agreement.effective_from is None:
        agreement.effective_from = on
    agreement.status = to
    agreement.updated_at = dt.datetime.now(dt.UTC)
    session.add(
        AgreementStatusChange(
            agreement_id=agreement.id,
            from_status=previous,
            to_status=to,
            reason=reason,
            on=on,
            api_key_id=actor.api_key_id,
        )
    )
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="agreement.status_changed",
        aggregate=aggregate_of(agreement.id),
        entity_id=agreement.id,
        before=before,
        after=as_public(agreement),
        extra={"previous_status": previous, "reason": reason},
    )
    # Open initiatives follow the agreement, in this same transaction.
    await agreement_rules.cascade_to_initiatives(
        session,
        actor=actor,
        agreement_id=agreement.id,
        agreement_from=previous,
        agreement_to=to,
    )
    return agreement


async def list_history(
    session: AsyncSession, *, agreement_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[AgreementStatusChange]:
    query = (
        select(AgreementStatusChange)
        .where(AgreementStatusChange.agreement_id == agreement_id)
        .order_by(AgreementStatusChange.id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(AgreementStatusChange.id > after)
    return list((await session.scalars(query)).all())
