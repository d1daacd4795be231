"""What indicators forbid elsewhere: deleting their initiative (removing an objective they
serve is refused by shared.initiatives.agreement_rules.ensure_objectives_unused)."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Conflict
from shared.models import Indicator


async def ensure_no_indicators(session: AsyncSession, *, initiative_id: uuid.UUID) -> None:
    """409 while an initiative has indicators (their measurements are its record)."""
    if await session.scalar(select(exists().where(Indicator.initiative_id == initiative_id))):
        raise Conflict(
            "The initiative has indicators; delete them first, or cancel the initiative "
            "to keep its record."
        )
