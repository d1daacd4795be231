"""Reading rollups: stored by the worker, computed on the spot if not stored yet."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import Select, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements.reads import ensure_visible
from shared.agreements.visibility import under_visible_agreements, visible_to
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


async def _stored(
    session: AsyncSession, model: type[Any], key: Any, *, organization_id: uuid.UUID | None
) -> str | None:
    query = select(model.rendered).where(getattr(model, model.__mapper__.primary_key[0].key) == key)
    return await session.scalar(
        under_visible_agreements(query, model.agreement_id, organization_id)
    )


async def stored_agreement_rollup(
    session: AsyncSession, agreement_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> str | None:
    """The agreement's rollup as stored JSON (shared.rendered); None: read it on the spot."""
    return await _stored(session, AgreementRollup, agreement_id, organization_id=organization_id)


async def stored_initiative_rollup(
    session: AsyncSession, initiative_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> str | None:
    """The initiative's rollup as stored JSON (shared.rendered); None: read it on the spot."""
    return await _stored(session, InitiativeRollup, initiative_id, organization_id=organization_id)


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
    """Counts by health, status, country pair and focus area over the agreements in view.

    Counted by the database (a few grouped rows come back, however many
    agreements there are).
    """
    in_view = select(Agreement.id)
    for organization in (organization_scope, organization_id):
        condition = visible_to(organization)
        if condition is not None:
            in_view = in_view.where(condition)
    health = func.coalesce(AgreementRollup.health, "pending")
    grouped = (
        await session.execute(
            select(
                health,
                Agreement.status,
                func.count(),
                func.sum(AgreementRollup.achievement),
                func.count(AgreementRollup.achievement),
            )
            .select_from(Agreement)
            .outerjoin(AgreementRollup, AgreementRollup.agreement_id == Agreement.id)
            .where(Agreement.id.in_(in_view))
            .group_by(health, Agreement.status)
        )
    ).all()
    by_health: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    achievement_sum, achieved = 0.0, 0
    for health_name, status, count, total_achievement, with_achievement in grouped:
        by_health[health_name] += count
        by_status[status] += count
        achievement_sum += total_achievement or 0.0
        achieved += with_achievement
    return {
        "total": sum(by_status.values()),
        "by_health": _sorted(by_health),
        "by_status": _sorted(by_status),
        "by_country_pair": await _country_pairs(session, in_view),
        "by_focus_area": await _focus_areas(session, in_view),
        "achievement": achievement_sum / achieved if achieved else None,
    }


def _sorted(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items()))


async def _country_pairs(session: AsyncSession, in_view: Select[Any]) -> dict[str, int]:
    """Agreements per pair of (distinct, sorted) party countries; one country pairs with itself."""
    countries = (
        select(AgreementParty.agreement_id, Organization.country)
        .join(Organization, Organization.id == AgreementParty.organization_id)
        .where(AgreementParty.agreement_id.in_(in_view))
        .distinct()
        .cte("countries")
    )
    first, second = countries.alias("first"), countries.alias("second")
    pairs = select((first.c.country + "-" + second.c.country).label("pair")).join_from(
        first,
        second,
        (second.c.agreement_id == first.c.agreement_id) & (first.c.country < second.c.country),
    )
    alone = (
        select((func.min(countries.c.country) + "-" + func.min(countries.c.country)).label("pair"))
        .group_by(countries.c.agreement_id)
        .having(func.count() == 1)
    )
    every = union_all(pairs, alone).subquery()
    rows = (await session.execute(select(every.c.pair, func.count()).group_by(every.c.pair))).all()
    return dict(sorted((name, count) for name, count in rows))


async def _focus_areas(session: AsyncSession, in_view: Select[Any]) -> dict[str, int]:
    """Agreements per focus area (an area named twice by one agreement counts once)."""
    if session.bind.dialect.name == "postgresql":
        area = func.jsonb_array_elements_text(Agreement.focus_areas).table_valued("value")
    else:
        area = func.json_each(Agreement.focus_areas).table_valued("value")
    rows = (
        await session.execute(
            select(area.c.value, func.count(func.distinct(Agreement.id)))
            .select_from(Agreement)
            .join(area, literal(True))
            .where(Agreement.id.in_(in_view))
            .group_by(area.c.value)
        )
    ).all()
    return dict(sorted((name, count) for name, count in rows))
