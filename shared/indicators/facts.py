"""The indicator facts rollups are computed from (shared.rollups.rules.IndicatorFacts)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Indicator, Measurement
from shared.rollups.rules import IndicatorFacts


async def load_indicator_facts(
    session: AsyncSession, agreement_id: uuid.UUID
) -> dict[uuid.UUID, list[IndicatorFacts]]:
    """Each initiative's indicators with their latest value; two indexed queries."""
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
        .where(Measurement.agreement_id == agreement_id)
        .subquery()
    )
    latest = dict(
        (
            await session.execute(
                select(ranked.c.indicator_id, ranked.c.value).where(ranked.c.rank == 1)
            )
        ).all()
    )
    facts: dict[uuid.UUID, list[IndicatorFacts]] = {}
    for row in await session.execute(
        select(
            Indicator.id,
            Indicator.initiative_id,
            Indicator.measure,
            Indicator.baseline,
            Indicator.target,
            Indicator.objective_ref,
            Indicator.updated_at,
        )
        .where(Indicator.agreement_id == agreement_id)
        .order_by(Indicator.id)
    ):
        facts.setdefault(row.initiative_id, []).append(
            IndicatorFacts(
                id=row.id,
                measure=row.measure,
                baseline=(row.baseline or {}).get("value"),
                target=(row.target or {}).get("value"),
                latest=latest.get(row.id),
                objective_ref=row.objective_ref,
                updated_at=row.updated_at,
            )
        )
    return facts
