"""Initiative use cases: the work that carries out an agreement's objectives.

Functions flush; the request boundary commits. Every change records its
event on the agreement's aggregate through :func:`shared.events.record_change`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements.reads import get_agreement
from shared.agreements.visibility import under_visible_agreements
from shared.clock import today
from shared.errors import (
    Conflict,
    InvalidReference,
    NotFound,
    TransitionConditionFailed,
)
from shared.events import Actor, Aggregate, record_change
from shared.ids import uuid7
from shared.indicators.guards import ensure_no_indicators
from shared.initiatives.schemas import (
    InitiativeCreate,
    InitiativeTransition,
    InitiativeUpdate,
    as_public,
    check_date_order,
    initiative_date_pairs,
)
from shared.lifecycle import AGREEMENT_CLOSED_STATUSES, INITIATIVE_TRANSITIONS, check_move
from shared.models import Agreement, Initiative, Milestone
from shared.rendered import all_stored
from shared.rows import one_or_404, page_after


def _aggregate(initiative: Initiative) -> Aggregate:
    return Aggregate("agreement", initiative.agreement_id)


def _visible(query: Select[Any], organization_id: uuid.UUID | None) -> Select[Any]:
    """Limit a query on initiatives to those under agreements the caller may see."""
    return under_visible_agreements(query, Initiative.agreement_id, organization_id)


async def get_initiative(
    session: AsyncSession,
    initiative_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None = None,
    for_update: bool = False,
) -> Initiative:
    """The initiative; 404 also when the caller may not see its agreement."""
    query = _visible(select(Initiative).where(Initiative.id == initiative_id), organization_id)
    missing = f"Initiative {initiative_id} does not exist."
    return await one_or_404(
        session, query, missing=missing, lock=Initiative if for_update else None
    )


async def lock_for_change(
    session: AsyncSession, initiative_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> tuple[Agreement, Initiative]:
    """The initiative and its agreement, locked in the agreement-first order the
    lifecycle cascade uses, so a move and a cascade never interleave."""
    initiative = await get_initiative(session, initiative_id, organization_id=organization_id)
    agreement = await get_agreement(session, initiative.agreement_id, for_update=True)
    initiative = await get_initiative(session, initiative_id, for_update=True)
    return agreement, initiative


def _list_query(
    base: Select[Any],
    *,
    after: uuid.UUID | None,
    limit: int,
    organization_scope: uuid.UUID | None,
    agreement_id: uuid.UUID | None = None,
    status: str | None = None,
    lead_organization_id: uuid.UUID | None = None,
    objective_ref: str | None = None,
) -> Select[Any]:
    query = _visible(base, organization_scope)
    if agreement_id:
        query = query.where(Initiative.agreement_id == agreement_id)
    if status:
        query = query.where(Initiative.status == status)
    if lead_organization_id:
        query = query.where(Initiative.lead_organization_id == lead_organization_id)
    if objective_ref:
        query = query.where(Initiative.objective_ref == objective_ref)
    return page_after(query, Initiative.id, after=after, limit=limit)


async def list_initiatives(session: AsyncSession, **filters: Any) -> list[Initiative]:
    """Up to ``limit + 1`` initiatives after ``after``, in creation order (filters
    of :func:`_list_query`)."""
    return list((await session.scalars(_list_query(select(Initiative), **filters))).all())


async def list_rendered_initiatives(session: AsyncSession, **filters: Any) -> list[Any] | None:
    """:func:`list_initiatives` as stored JSON (rows of ``.id``, ``.rendered``,
    shared.rendered); None when one has none yet (list them on the spot)."""
    query = _list_query(select(Initiative.id, Initiative.rendered), **filters)
    return all_stored(list((await session.execute(query)).all()))


async def read_rendered_initiative(
    session: AsyncSession, initiative_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> Any | None:
    """The initiative's stored JSON and version (``.rendered``, ``.version``);
    None when it has none yet; 404 also when the caller may not see it."""
    query = select(Initiative.rendered, Initiative.version).where(Initiative.id == initiative_id)
    row = (await session.execute(_visible(query, organization_id))).one_or_none()
    if row is None:
        raise NotFound(f"Initiative {initiative_id} does not exist.")
    return row if row.rendered is not None else None


def _check_objective(agreement: Agreement, objective_ref: str | None) -> None:
    if objective_ref is None:
        return
    refs = [objective["ref"] for objective in agreement.objectives]
    if objective_ref not in refs:
        known = ", ".join(refs) or "none"
        raise InvalidReference(
            f"The agreement has no objective '{objective_ref}' (its objectives: {known}).",
            errors=[{"loc": ["body", "objective_ref"], "msg": "not an objective of the agreement"}],
        )


def _check_lead(agreement: Agreement, lead_organization_id: uuid.UUID) -> None:
    if lead_organization_id not in {party.organization_id for party in agreement.parties}:
        raise InvalidReference(
            f"Organization {lead_organization_id} is not a party to the agreement.",
            errors=[
                {"loc": ["body", "lead_organization_id"], "msg": "not a party to the agreement"}
            ],
        )


def _check_dates(values: dict[str, dt.date | None]) -> None:
    try:
        check_date_order(initiative_date_pairs(values))
    except ValueError as exc:
        raise InvalidReference(str(exc), errors=[{"loc": ["body"], "msg": str(exc)}]) from exc


async def create_initiative(
    session: AsyncSession, *, actor: Actor, agreement: Agreement, payload: InitiativeCreate
) -> Initiative:
    """Record an initiative in `planned` under ``agreement`` (loaded with its parties)."""
    if agreement.status in AGREEMENT_CLOSED_STATUSES:
        raise Conflict(
            f"The agreement is {agreement.status}; no new initiatives can be recorded under it."
        )
    _check_objective(agreement, payload.objective_ref)
    _check_lead(agreement, payload.lead_organization_id)
    initiative = Initiative(
        id=uuid7(),
        agreement_id=agreement.id,
        title=payload.title,
        description=payload.description,
        objective_ref=payload.objective_ref,
        lead_organization_id=payload.lead_organization_id,
        status="planned",
        planned_start=payload.planned_start,
        planned_end=payload.planned_end,
        actual_start=payload.actual_start,
        actual_end=payload.actual_end,
        weight=payload.weight,
    )
    session.add(initiative)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="initiative.created",
        aggregate=_aggregate(initiative),
        entity_id=initiative.id,
        before=None,
        after=as_public(initiative),
    )
    return initiative


async def update_initiative(
    session: AsyncSession,
    *,
    actor: Actor,
    agreement: Agreement,
    initiative: Initiative,
    payload: InitiativeUpdate,
) -> Initiative:
    changes = payload.changes()
    if not changes:
        return initiative
    if "objective_ref" in changes:
        _check_objective(agreement, changes["objective_ref"])
    if "lead_organization_id" in changes:
        _check_lead(agreement, changes["lead_organization_id"])
    dates = ("planned_start", "planned_end", "actual_start", "actual_end")
    _check_dates({field: changes.get(field, getattr(initiative, field)) for field in dates})
    before = as_public(initiative)
    for field, value in changes.items():
        setattr(initiative, field, value)
    initiative.updated_at = dt.datetime.now(dt.UTC)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="initiative.updated",
        aggregate=_aggregate(initiative),
        entity_id=initiative.id,
        before=before,
        after=as_public(initiative),
    )
    return initiative


async def transition_initiative(
    session: AsyncSession,
    *,
    actor: Actor,
    agreement: Agreement,
    initiative: Initiative,
    request: InitiativeTransition,
) -> Initiative:
    """Move an initiative along planned -> in_progress <-> on_hold -> completed."""
    check_move("An initiative", INITIATIVE_TRANSITIONS, initiative.status, request.to)
    if request.to == "in_progress" and (
        agreement.status == "suspended" or agreement.status in AGREEMENT_CLOSED_STATUSES
    ):
        raise TransitionConditionFailed(
            f"Moving to in_progress needs an agreement that is not {agreement.status}"
            + ("; resume the agreement first." if agreement.status == "suspended" else "."),
            missing=[f"an agreement that is not {agreement.status}"],
        )
    effective_on = request.on or today()
    before = as_public(initiative)
    previous = initiative.status
    initiative.status = request.to
    # A hand-made move overrides what an agreement suspension remembered.
    initiative.paused_from_status = None
    if request.to == "in_progress" and initiative.actual_start is None:
        initiative.actual_start = effective_on
    if request.to == "completed" and initiative.actual_end is None:
        initiative.actual_end = max(effective_on, initiative.actual_start or effective_on)
    initiative.updated_at = dt.datetime.now(dt.UTC)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="initiative.status_changed",
        aggregate=_aggregate(initiative),
        entity_id=initiative.id,
        before=before,
        after=as_public(initiative),
        extra={"previous_status": previous, "reason": request.reason},
    )
    return initiative


async def delete_initiative(session: AsyncSession, *, actor: Actor, initiative: Initiative) -> None:
    """Delete an initiative that has no milestones (409 otherwise)."""
    has_milestones = await session.scalar(
        select(exists().where(Milestone.initiative_id == initiative.id))
    )
    if has_milestones:
        raise Conflict(
            "The initiative has milestones; delete them first, or cancel the initiative "
            "to keep its record."
        )
    await ensure_no_indicators(session, initiative_id=initiative.id)
    before = as_public(initiative)
    await session.delete(initiative)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="initiative.deleted",
        aggregate=_aggregate(initiative),
        entity_id=initiative.id,
        before=before,
        after=None,
    )
