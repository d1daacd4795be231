"""What indicators forbid elsewhere: removing an objective they serve, deleting their initiative."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Conflict
from shared.models import Indicator


async def ensure_objectives_unmeasured(
    session: AsyncSession, *, agreement_id: uuid.UUID, kept_refs: Iterable[str]
) -> None:
    """409 when new objectives would drop a ref an indicator still names."""
    kept = set(kept_refs)
    used = set(
        (
            await session.scalars(
                select(Indicator.objective_ref)
                .where(Indicator.agreement_id == agreement_id, Indicator.objective_ref.is_not(None))
                .distinct()
            )
        ).all()
    )
    dropped = sorted(used - kept)
    if dropped:
        raise Conflict(
            f"Objective {', '.join(dropped)} is named by indicators; change their "
            "objective_ref before removing it."
        )


async def ensure_no_indicators(session: AsyncSession, *, initiative_id: uuid.UUID) -> None:
    """409 while an initiative has indicators (their measurements are its record)."""
    if await session.scalar(select(exists().where(Indicator.initiative_id == initiative_id))):
        raise Conflict(
            "The initiative has indicators; delete them first, or cancel the initiative "
            "to keep its record."
        )
