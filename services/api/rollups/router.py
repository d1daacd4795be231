"""Rollup routes: progress, schedule and health of agreements, initiatives, the portfolio."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Response

from services.api.deps import Reader, SessionDep
from services.api.http import rendered_answer
from services.api.problems import problem_responses
from shared.rollups import service
from shared.rollups.schemas import (
    AgreementRollupPublic,
    InitiativeRollupPublic,
    PortfolioPublic,
)

router = APIRouter(tags=["rollups"])

HEALTH_RULES = """
Health: `completed` (status completed), else `off_track` (spi < 0.8, or a
milestone overdue by more than 30 days), else `at_risk` (spi < 0.95, or any
overdue milestone), else `not_started` (nothing done, nothing due), else
`on_track`. Cancelled milestones (and initiatives) are left out. The worker
recomputes a rollup after every change; `computed_at` tells when.
"""


@router.get(
    "/v1/agreements/{agreement_id}/rollup",
    response_model=AgreementRollupPublic,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_agreement_rollup(
    agreement_id: uuid.UUID, session: SessionDep, principal: Reader, response: Response
) -> AgreementRollupPublic | Response:
    """Progress, schedule and health of an agreement, its initiatives and objectives.

    `progress` and `planned` are the means of its non-cancelled initiatives',
    weighted by initiative weight; the health is the worst of its
    initiatives' and its own schedule's.
    """
    stored = await service.stored_agreement_rollup(
        session, agreement_id, organization_id=principal.organization_id
    )
    if stored is not None:
        return rendered_answer(stored, response)
    body = await service.agreement_rollup(
        session, agreement_id, organization_id=principal.organization_id
    )
    return AgreementRollupPublic.model_validate(body)


get_agreement_rollup.__doc__ = (get_agreement_rollup.__doc__ or "") + HEALTH_RULES


@router.get(
    "/v1/initiatives/{initiative_id}/rollup",
    response_model=InitiativeRollupPublic,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_initiative_rollup(
    initiative_id: uuid.UUID, session: SessionDep, principal: Reader, response: Response
) -> InitiativeRollupPublic | Response:
    """Progress, schedule and health of one initiative from its milestones.

    `progress` = Σ weight of done milestones / Σ weight; `planned` = Σ weight
    of milestones due by today / Σ weight; `spi` = progress / planned.
    """
    stored = await service.stored_initiative_rollup(
        session, initiative_id, organization_id=principal.organization_id
    )
    if stored is not None:
        return rendered_answer(stored, response)
    body = await service.initiative_rollup(
        session, initiative_id, organization_id=principal.organization_id
    )
    return InitiativeRollupPublic.model_validate(body)


get_initiative_rollup.__doc__ = (get_initiative_rollup.__doc__ or "") + HEALTH_RULES


@router.get("/v1/rollups/portfolio", responses=problem_responses(401, 403, 422))
async def get_portfolio(
    session: SessionDep,
    principal: Reader,
    organization_id: uuid.UUID | None = Query(
        default=None, description="Only agreements this organization is party to."
    ),
) -> PortfolioPublic:
    """Counts of agreements by health, status, country pair and focus area.

    A key bound to an organization counts only the agreements it is party to.
    """
    counts = await service.portfolio(
        session, organization_scope=principal.organization_id, organization_id=organization_id
    )
    return PortfolioPublic.model_validate(counts)
