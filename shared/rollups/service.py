"""Reading rollups: stored by the worker, computed on the spot if not stored yet."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements.reads import ensure_visible
from shared.agreements.visibility import visible_to
from shared.clock import today, utcnow
from shared.errors import NotFound
from shared.models import (
    Agreement,
    AgreementParty,
    AgreementRollup,
    Initiative,
    InitiativeRollup,
    Organization,
)
from shared.rendered import rollup_public
from shared.rollups import rules
from shared.rollups.store import load_agreement_facts


async def _computed_now(session: AsyncSession, agreement_id: uuid.UUID) -> rules.AgreementRollup:
    facts = await load_agreement_facts(session, agreement_id)
    if facts is None:
        raise NotFound(f"Agreement {agreement_id} does not exist.")
    return rules.agreement_rollup(facts, today())


async def stored_agreement_rollup(
    session: AsyncSession, agreement_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> str | None:
    """The agreement's rollup as stored JSON (shared.rendered); None: read it on the spot."""
    query = (
        select(AgreementRollup.rendered)
        .join(Agreement, Agreement.id == AgreementRollup.agreement_id)
        .where(AgreementRollup.agreement_id == agreement_id)
    )
    condition = visible_to(organization_id)
    if condition is not None:
        query = query.where(condition)
    return await session.scalar(query)


async def stored_initiative_rollup(
    session: AsyncSession, initiative_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> str | None:
    """The initiative's rollup as stored JSON (shared.rendered); None: read it on the spot."""
    query = (
        select(InitiativeRollup.rendered)
        .join(Agreement, Agreement.id == InitiativeRollup.agreement_id)
        .where(InitiativeRollup.initiative_id == initiative_id)
    )
    condition = visible_to(organization_id)
    if condition is not None:
        query = query.where(condition)
    return await session.scalar(query)


async def agreement_rollup(
    session: AsyncSession, agreement_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> dict[str, Any]:
    await ensure_visible(session, agreement_id, organization_id=organization_id)
    stored = await session.get(AgreementRollup, agreement_id)
    if stored is not None:
        return rollup_public(stored.body, stored.computed_at)
    rollup = await _computed_now(session, agreement_id)
    return rollup_public(to_jsonable_python(rollup.body()), utcnow())


async def initiative_rollup(
    session: AsyncSession, initiative_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> dict[str, Any]:
    agreement_id = await session.scalar(
        select(Initiative.agreement_id).where(Initiative.id == initiative_id)
    )
    if agreement_id is None:
        raise NotFound(f"Initiative {initiative_id} does not exist.")
    try:
        await ensure_visible(session, agreement_id, organization_id=organization_id)
    except NotFound:
        raise NotFound(f"Initiative {initiative_id} does not exist.") from None
    stored = await session.get(InitiativeRollup, initiative_id)
    if stored is not None:
        return rollup_public(stored.body, stored.computed_at)
    rollup = await _computed_now(session, agreement_id)
    for initiative in rollup.initiatives:
        if initiative.initiative_id == initiative_id:
            body = {**initiative.body(), "agreement_id": agreement_id}
            return rollup_public(to_jsonable_python(body), utcnow())
    raise NotFound(f"Initiative {initiative_id} does not exist.")


async def portfolio(
    session: AsyncSession,
    *,
    organization_scope: uuid.UUID | None,
    organization_id: uuid.UUID | None,
) -> dict[str, Any]:
    """Counts by health, status, country pair and focus area over the agreements in view."""
    in_view = select(Agreement.id)
    for organization in (organization_scope, organization_id):
        condition = visible_to(organization)
        if condition is not None:
            in_view = in_view.where(condition)
    rows = (
        await session.execute(
            select(
                Agreement.id,
                Agreement.status,
                Agreement.focus_areas,
                AgreementRollup.health,
                AgreementRollup.achievement,
            )
            .outerjoin(AgreementRollup, AgreementRollup.agreement_id == Agreement.id)
            .where(Agreement.id.in_(in_view))
        )
    ).all()
    by_health: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    by_focus_area: Counter[str] = Counter()
    achievements = [row.achievement for row in rows if row.achievement is not None]
    for row in rows:
        by_health[row.health or "pending"] += 1
        by_status[row.status] += 1
        by_focus_area.update(set(row.focus_areas or ()))
    countries: dict[uuid.UUID, set[str]] = {}
    for agreement_id, country in await session.execute(
        select(AgreementParty.agreement_id, Organization.country)
        .join(Organization, Organization.id == AgreementParty.organization_id)
        .where(AgreementParty.agreement_id.in_(in_view))
    ):
        countries.setdefault(agreement_id, set()).add(country)
    by_country_pair: Counter[str] = Counter()
    for codes in countries.values():
        ordered = sorted(codes)
        pairs = (
            list(itertools.combinations(ordered, 2)) if len(ordered) > 1 else [(ordered[0],) * 2]
        )
        by_country_pair.update(f"{first}-{second}" for first, second in pairs)
    return {
        "total": len(rows),
        "by_health": dict(by_health),
        "by_status": dict(by_status),
        "by_country_pair": dict(by_country_pair),
        "by_focus_area": dict(by_focus_area),
        "achievement": sum(achievements) / len(achievements) if achievements else None,
    }
