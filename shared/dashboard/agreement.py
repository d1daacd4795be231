"""The Agreement page: one agreement and everything under it, as /v1 serves them.

Each section of the page is a field here and a partial template there, so
the parts later capabilities add (party acts, amendments, documents,
indicators, reports) are one more field and one more partial each.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements import reads as agreements
from shared.agreements.schemas import AgreementPublic, StatusChangePublic
from shared.dashboard.charts import Bar, month_bars
from shared.dashboard.record import RecordParts, record_parts
from shared.dashboard.rows import PartyView, organizations_by_id, party_views, rollups_of
from shared.engagements import service as engagements
from shared.engagements.schemas import EngagementPublic
from shared.initiatives import service as initiatives
from shared.initiatives.schemas import InitiativePublic
from shared.lifecycle import allowed_agreement_targets
from shared.milestones import service as milestones
from shared.milestones.schemas import MilestonePublic
from shared.models import InitiativeRollup
from shared.research_collaborations import service as research
from shared.research_collaborations.schemas import ResearchCollaborationPublic
from shared.rollups import service as rollups
from shared.rollups.schemas import AgreementRollupPublic, InitiativeRollupPublic

# A section lists this many rows; the API pages beyond.
SECTION_LIMIT = 200


@dataclass(frozen=True)
class InitiativeView:
    initiative: InitiativePublic
    rollup: InitiativeRollupPublic
    lead: str


@dataclass(frozen=True)
class MilestoneView:
    milestone: MilestonePublic
    initiative_title: str


@dataclass(frozen=True)
class ObjectiveView:
    ref: str
    text: str
    initiatives: int
    progress: float


@dataclass
class AgreementPage:
    agreement: AgreementPublic
    parties: list[PartyView]
    rollup: AgreementRollupPublic
    history: list[StatusChangePublic]
    objectives: list[ObjectiveView]
    initiatives: list[InitiativeView]
    milestones: list[MilestoneView]
    milestones_by_month: list[Bar]
    engagements: list[EngagementPublic]
    research_collaborations: list[ResearchCollaborationPublic]
    allowed_targets: tuple[str, ...]
    organization_names: dict[uuid.UUID, str] = field(default_factory=dict)
    # Indicators, reports, documents: one partial each on the page.
    record: RecordParts = field(default_factory=RecordParts)


async def _initiative_rollups(
    session: AsyncSession, initiative_ids: list[uuid.UUID], organization_scope: uuid.UUID | None
) -> dict[uuid.UUID, InitiativeRollupPublic]:
    bodies: dict[uuid.UUID, dict[str, Any]] = {}
    if initiative_ids:
        for row in await session.scalars(
            select(InitiativeRollup).where(InitiativeRollup.initiative_id.in_(initiative_ids))
        ):
            bodies[row.initiative_id] = {**row.body, "computed_at": row.computed_at}
    for initiative_id in initiative_ids:
        if initiative_id not in bodies:
            bodies[initiative_id] = await rollups.initiative_rollup(
                session, initiative_id, organization_id=organization_scope
            )
    return {key: InitiativeRollupPublic.model_validate(body) for key, body in bodies.items()}


async def agreement_page(
    session: AsyncSession, agreement_id: uuid.UUID, *, organization_scope: uuid.UUID | None
) -> AgreementPage:
    """Everything the page shows; NotFound when the caller may not see the agreement."""
    agreement = await agreements.read_public_agreement(
        session, agreement_id, organization_id=organization_scope
    )
    scope: dict[str, Any] = {"organization_scope": organization_scope, "after": None}
    history = await agreements.list_history(
        session, agreement_id=agreement_id, after=None, limit=SECTION_LIMIT
    )
    initiative_rows = await initiatives.list_initiatives(
        session, agreement_id=agreement_id, limit=SECTION_LIMIT, **scope
    )
    milestone_rows = await milestones.list_milestones(
        session, agreement_id=agreement_id, limit=SECTION_LIMIT, **scope
    )
    engagement_rows = await engagements.list_engagements(
        session, agreement_id=agreement_id, limit=SECTION_LIMIT, **scope
    )
    research_rows = await research.list_collaborations(
        session, agreement_id=agreement_id, limit=SECTION_LIMIT, **scope
    )
    rollup = (await rollups_of(session, [agreement_id], organization_scope=organization_scope))[
        agreement_id
    ]
    initiative_public = [
        InitiativePublic.model_validate(row) for row in initiative_rows[:SECTION_LIMIT]
    ]
    initiative_figures = await _initiative_rollups(
        session, [row.id for row in initiative_public], organization_scope
    )
    organization_ids = {party.organization_id for party in agreement.parties}
    organization_ids |= {row.lead_organization_id for row in initiative_public}
    organizations = await organizations_by_id(session, organization_ids)
    names = {key: (org.acronym or org.name) for key, org in organizations.items()}
    titles = {row.id: row.title for row in initiative_public}
    milestone_public = [MilestonePublic.model_validate(row) for row in milestone_rows]
    milestone_public.sort(key=lambda row: (row.due_on, row.title))
    coverage = {item.ref: item for item in rollup.objectives}
    return AgreementPage(
        agreement=agreement,
        parties=party_views(agreement, organizations),
        rollup=rollup,
        history=[StatusChangePublic.model_validate(row) for row in history[:SECTION_LIMIT]],
        objectives=[
            ObjectiveView(
                ref=objective.ref,
                text=objective.text,
                initiatives=coverage[objective.ref].initiatives if objective.ref in coverage else 0,
                progress=coverage[objective.ref].progress if objective.ref in coverage else 0.0,
            )
            for objective in agreement.objectives
        ],
        initiatives=[
            InitiativeView(
                initiative=row,
                rollup=initiative_figures[row.id],
                lead=names.get(row.lead_organization_id, str(row.lead_organization_id)),
            )
            for row in initiative_public
        ],
        milestones=[
            MilestoneView(milestone=row, initiative_title=titles.get(row.initiative_id, ""))
            for row in milestone_public[:SECTION_LIMIT]
        ],
        milestones_by_month=month_bars(
            row.due_on for row in milestone_public if row.status != "cancelled"
        ),
        engagements=[EngagementPublic.model_validate(row) for row in engagement_rows],
        research_collaborations=[
            ResearchCollaborationPublic.model_validate(row) for row in research_rows
        ],
        allowed_targets=allowed_agreement_targets(agreement.status),
        organization_names=names,
        record=await record_parts(session, agreement_id, organization_scope=organization_scope),
    )
