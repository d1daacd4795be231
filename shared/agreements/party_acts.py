"""Party acts: record and delete what each party did, keeping its dates.

Each party entry of an agreement carries the dates its acts give
(``signed_on``, ``consented_on``, ``withdrawn_on``), rewritten in the same
transaction as the act; the agreement's ``version`` moves with them, since
its representation changed.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.agreements import acts
from shared.agreements.legal_schemas import PartyActCreate, PartyActPublic
from shared.agreements.reads import as_public
from shared.agreements.service import aggregate_of
from shared.agreements.visibility import under_visible_agreements
from shared.errors import Conflict, InvalidReference
from shared.events import Actor, record_change
from shared.ids import uuid7
from shared.models import Agreement, PartyAct
from shared.rows import one_or_404, rows_after


def act_public(act: PartyAct) -> dict[str, Any]:
    return PartyActPublic.model_validate(act).model_dump(mode="json")


async def _acts_of(
    session: AsyncSession, agreement_id: uuid.UUID, organization_id: uuid.UUID
) -> list[PartyAct]:
    return list(
        (
            await session.scalars(
                select(PartyAct)
                .where(
                    PartyAct.agreement_id == agreement_id,
                    PartyAct.organization_id == organization_id,
                )
                .order_by(PartyAct.on, PartyAct.id)
            )
        ).all()
    )


def _as_acts(rows: list[PartyAct]) -> list[acts.Act]:
    return [acts.Act(act=row.act, on=row.on) for row in rows]


def _refresh_party_dates(
    agreement: Agreement, organization_id: uuid.UUID, rows: list[PartyAct]
) -> None:
    dates = acts.party_dates(_as_acts(rows))
    for party in agreement.parties:
        if party.organization_id == organization_id:
            party.signed_on = dates.signed_on
            party.consented_on = dates.consented_on
            party.withdrawn_on = dates.withdrawn_on
    # The agreement reads differently now: a new version, a new ETag.
    agreement.updated_at = clock.utcnow()


async def record_party_act(
    session: AsyncSession, *, actor: Actor, agreement: Agreement, payload: PartyActCreate
) -> PartyAct:
    """Record an act of a party (the agreement locked by the caller)."""
    if payload.organization_id not in {party.organization_id for party in agreement.parties}:
        raise InvalidReference(
            f"Organization {payload.organization_id} is not a party to this agreement.",
            errors=[{"loc": ["body", "organization_id"], "msg": "not a party to the agreement"}],
        )
    existing = await _acts_of(session, agreement.id, payload.organization_id)
    new_act = acts.Act(act=payload.act, on=payload.on)
    problems = acts.order_problems([*_as_acts(existing), new_act])
    if problems:
        raise Conflict(f"This {payload.act} cannot be recorded: {'; and '.join(problems)}.")
    act = PartyAct(id=uuid7(), agreement_id=agreement.id, **payload.model_dump())
    session.add(act)
    _refresh_party_dates(agreement, payload.organization_id, [*existing, act])
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="agreement.party_act_recorded",
        aggregate=aggregate_of(agreement.id),
        entity_id=agreement.id,  # the audit trail of the agreement's record
        before=None,
        after=act_public(act),
        extra={"agreement": as_public(agreement)},
    )
    return act


async def delete_party_act(
    session: AsyncSession, *, actor: Actor, agreement: Agreement, act: PartyAct
) -> None:
    """Delete an act recorded in error; the party's other acts must still stand."""
    remaining = [
        row
        for row in await _acts_of(session, agreement.id, act.organization_id)
        if row.id != act.id
    ]
    problems = acts.order_problems(_as_acts(remaining))
    if problems:
        raise Conflict(
            f"Deleting this {act.act} would leave the party's acts out of order: "
            f"{'; and '.join(problems)}. Delete the acts that rest on it first."
        )
    before = act_public(act)
    await session.delete(act)
    _refresh_party_dates(agreement, act.organization_id, remaining)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="agreement.party_act_deleted",
        aggregate=aggregate_of(agreement.id),
        entity_id=agreement.id,  # the audit trail of the agreement's record
        before=before,
        after=None,
        extra={"agreement": as_public(agreement)},
    )


async def get_party_act(
    session: AsyncSession, act_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> PartyAct:
    """The act; 404 also when the caller may not see its agreement."""
    query = under_visible_agreements(
        select(PartyAct).where(PartyAct.id == act_id), PartyAct.agreement_id, organization_id
    )
    return await one_or_404(session, query, missing=f"Party act {act_id} does not exist.")


async def list_party_acts(
    session: AsyncSession,
    *,
    agreement_id: uuid.UUID,
    organization_id: uuid.UUID | None = None,
    act: str | None = None,
    after: uuid.UUID | None,
    limit: int,
) -> list[PartyAct]:
    """The agreement's acts in the order they were recorded, with filters."""
    query = select(PartyAct).where(PartyAct.agreement_id == agreement_id)
    if organization_id is not None:
        query = query.where(PartyAct.organization_id == organization_id)
    if act is not None:
        query = query.where(PartyAct.act == act)
    return await rows_after(session, query, PartyAct.id, after=after, limit=limit)
