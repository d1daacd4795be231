"""The indicator facts rollups are computed from (shared.rollups.rules.IndicatorFacts)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Indicator, Measurement
from shared.rollups.rules import IndicatorFacts


async def load_indicator_facts(
    session: AsyncSession, agreement_id: uuid.UUID
) -> dict[uuid.UUID, list[IndicatorFacts]]:
    """Each initiative's indicators with their latest value; one query."""
    return await load_indicator_facts_of(session, [agreement_id])


@functools.cache
def _facts_statement() -> Select[Any]:
    """The statement of :func:`load_indicator_facts_of`, built once (``ids``
    bound at each run)."""
    ids = bindparam("ids", expanding=True)
    ranked = (
        select(
            Measurement.indicator_id,
            Measurement.value,
            func.row_number()
            .over(
                partition_by=Measurement.indicator_id,
                order_by=(Measurement.on.desc(), Measurement.id.desc()),
            )
            .label("rank"),
        )
        .where(Measurement.agreement_id.in_(ids))
        .subquery()
    )
    latest = select(ranked.c.indicator_id, ranked.c.value).where(ranked.c.rank == 1).subquery()
    return (
        select(
            Indicator.id,
            Indicator.initiative_id,
            Indicator.measure,
            Indicator.baseline,
            Indicator.target,
            Indicator.objective_ref,
            Indicator.updated_at,
            latest.c.value.label("latest"),
        )
        .outerjoin(latest, latest.c.indicator_id == Indicator.id)
        .where(Indicator.agreement_id.in_(ids))
        .order_by(Indicator.id)
    )


async def load_indicator_facts_of(
    session: AsyncSession, agreement_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[IndicatorFacts]]:
    """:func:`load_indicator_facts` for several agreements (initiative ids are
    unique across them); the same one query (indexed on the agreement)."""
    if not agreement_ids:
        return {}
    facts: dict[uuid.UUID, list[IndicatorFacts]] = {}
    for row in await session.execute(_facts_statement(), {"ids": list(agreement_ids)}):
        facts.setdefault(row.initiative_id, []).append(
            IndicatorFacts(
                id=row.id,
                measure=row.measure,
                baseline=(row.baseline or {}).get("value"),
                target=(row.target or {}).get("value"),
                latest=row.latest,
                objective_ref=row.objective_ref,
                updated_at=row.updated_at,
            )
        )
    return facts
