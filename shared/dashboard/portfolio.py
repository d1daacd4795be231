"""The Portfolio page: counts, the health chart and the filtered agreements table."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements import reads as agreements
from shared.agreements.schemas import AgreementStatus
from shared.dashboard.charts import Bar, health_bars
from shared.dashboard.rows import AgreementRow, agreement_rows
from shared.lifecycle import AGREEMENT_STATUSES
from shared.rollups import rules as rollup_rules
from shared.rollups import service as rollups

PAGE_SIZE = 25
# Worst first, then the agreements whose rollup is not computed yet.
HEALTH_ORDER = (*reversed(rollup_rules.HEALTH_ORDER), "pending")


class PortfolioFilters(BaseModel):
    """The filters of the agreements table, checked like /v1's query parameters."""

    model_config = ConfigDict(extra="forbid")

    country: str | None = Field(
        default=None, pattern=r"^[A-Za-z]{2}$", description="Two-letter country code"
    )
    status: AgreementStatus | None = None
    focus_area: str | None = Field(default=None, max_length=100)
    q: str | None = Field(default=None, max_length=200)

    def as_query(self) -> dict[str, str]:
        return {name: value for name, value in self.model_dump().items() if value}


@dataclass(frozen=True)
class PortfolioPage:
    total: int
    by_health: list[tuple[str, int]]
    by_status: list[tuple[str, int]]
    focus_areas: list[str]
    health_chart: list[Bar]
    rows: list[AgreementRow]
    has_more: bool


def _ordered(counts: dict[str, int], order: tuple[str, ...]) -> list[tuple[str, int]]:
    known = [(name, counts.get(name, 0)) for name in order]
    return known + [(name, n) for name, n in counts.items() if name not in order]


async def portfolio_page(
    session: AsyncSession,
    *,
    organization_scope: uuid.UUID | None,
    filters: PortfolioFilters,
    after: uuid.UUID | None,
    limit: int = PAGE_SIZE,
    organization_id: uuid.UUID | None = None,
) -> PortfolioPage:
    counts: dict[str, Any] = await rollups.portfolio(
        session, organization_scope=organization_scope, organization_id=organization_id
    )
    listed = await agreements.list_agreements(
        session,
        after=after,
        limit=limit,
        organization_scope=organization_scope,
        organization_id=organization_id,
        **filters.model_dump(),
    )
    rows = await agreement_rows(session, listed[:limit], organization_scope=organization_scope)
    by_health = _ordered(counts["by_health"], HEALTH_ORDER)
    return PortfolioPage(
        total=counts["total"],
        by_health=by_health,
        by_status=[item for item in _ordered(counts["by_status"], AGREEMENT_STATUSES) if item[1]],
        focus_areas=sorted(counts["by_focus_area"]),
        health_chart=health_bars(by_health),
        rows=rows,
        has_more=len(listed) > limit,
    )
