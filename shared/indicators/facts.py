"""The indicator facts rollups are computed from (shared.rollups.rules.IndicatorFacts)."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Indicator, Measurement
from shared.rollups.rules import IndicatorFacts
from shared.statements import run_statement


async def load_indicator_facts(
    session: AsyncSession, agreement_id: uuid.UUID
) -> dict[uuid.UUID, list[IndicatorFacts]]:
    """Each initiative's indicators with their latest value; one query."""
    return await load_indicator_facts_of(session, [agreement_id])


# The latest measurement first: by date, then recording order.
LATEST_FIRST = (Measurement.on.desc(), Measurement.id.desc())

# Built once, the agreements bound as ``ids`` at each run.
_IDS = bindparam("ids", expanding=True)
_RANKED = (
    select(
        Measurement.indicator_id,
        Measurement.value,
        func.row_number()
        .over(partition_by=Measurement.indicator_id, order_by=LATEST_FIRST)
        .label("rank"),
    )
    .where(Measurement.agreement_id.in_(_IDS))
    .subquery()
)
_LATEST = select(_RANKED.c.indicator_id, _RANKED.c.value).where(_RANKED.c.rank == 1).subquery()
_INDICATORS_OF = (
    select(
        Indicator.id,
        Indicator.initiative_id,
        Indicator.measure,
        Indicator.baseline,
        Indicator.target,
        Indicator.objective_ref,
        Indicator.updated_at,
        _LATEST.c.value.label("latest"),
    )
    .outerjoin(_LATEST, _LATEST.c.indicator_id == Indicator.id)
    .where(Indicator.agreement_id.in_(_IDS))
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
    for row in await run_statement(session, _INDICATORS_OF, {"ids": list(agreement_ids)}):
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
