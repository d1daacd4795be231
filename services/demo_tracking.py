"""The implementation half of the reference story: what carries the MoU out.

The press release tells of the signing at the conference and of a STZA
delegation visiting GEI's office to plan implementation; everything below
that (dates, milestone titles, the researchers, the report and its DOI under
Crossref's test prefix 10.5555) is illustrative. Dates of work still open
are set relative to the day the story is loaded, so that exactly one
milestone is overdue whenever it is loaded; finished work keeps fixed dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from shared.engagements import service as engagements
from shared.engagements.schemas import EngagementCreate
from shared.events import Actor
from shared.initiatives import service as initiatives
from shared.initiatives.schemas import InitiativeCreate, InitiativeTransition
from shared.milestones import service as milestones
from shared.milestones.schemas import MilestoneCreate
from shared.models import Agreement, Engagement, Initiative, Organization
from shared.research_collaborations import service as research
from shared.research_collaborations.schemas import (
    OutputCreate,
    ResearchCollaborationCreate,
)

SIGNING_DAY = dt.date(2023, 9, 4)
VISIT_DAY = dt.date(2023, 9, 6)

# The decisions of the delegation visit; each became a milestone.
VISIT_OUTCOMES = (
    "Assess the training needs of STZA policymakers",
    "Agree a joint research agenda",
    "Run a baseline study for Special Technology Zone planning",
)


@dataclass(frozen=True)
class PlannedMilestone:
    title: str
    due_on: dt.date
    completed_on: dt.date | None = None
    status: str = "pending"
    from_visit: bool = False
    weight: int = 1


@dataclass(frozen=True)
class PlannedInitiative:
    objective_ref: str
    title: str
    lead: str  # "STZA" or "GEI"
    started_on: dt.date
    planned_end: dt.date
    milestones: tuple[PlannedMilestone, ...]
    weight: int = 1


def _done(title: str, due_on: dt.date, completed_on: dt.date, **extra: object) -> PlannedMilestone:
    return PlannedMilestone(title, due_on, completed_on, "done", **extra)  # type: ignore[arg-type]


def story(today: dt.date) -> tuple[PlannedInitiative, ...]:
    """One initiative per objective of the MoU, with its milestones."""
    return (
        PlannedInitiative(
            "O1",
            "Capacity-building programme for science and technology policymakers",
            "GEI",
            dt.date(2023, 10, 1),
            today + dt.timedelta(days=240),
            (
                _done(
                    VISIT_OUTCOMES[0], dt.date(2023, 11, 30), dt.date(2023, 11, 24), from_visit=True
                ),
                _done(
                    "First executive course held at GEI", dt.date(2024, 6, 30), dt.date(2024, 6, 27)
                ),
                PlannedMilestone("Second cohort curriculum agreed", today + dt.timedelta(days=45)),
            ),
            weight=2,
        ),
        PlannedInitiative(
            "O2",
            "Innovation ecosystem links between Special Technology Zones and Chinese science parks",
            "STZA",
            dt.date(2024, 1, 15),
            today + dt.timedelta(days=300),
            (
                _done(
                    "Partner science parks and incubators mapped",
                    dt.date(2024, 3, 31),
                    dt.date(2024, 4, 8),
                ),
                PlannedMilestone(
                    "Joint innovation ecosystem workshop held", today - dt.timedelta(days=20)
                ),
                PlannedMilestone(
                    "Soft-landing programme for zone start-ups opened",
                    today + dt.timedelta(days=120),
                ),
            ),
        ),
        PlannedInitiative(
            "O3",
            "Joint research programme",
            "GEI",
            dt.date(2023, 10, 15),
            today + dt.timedelta(days=365),
            (
                _done(
                    VISIT_OUTCOMES[1], dt.date(2023, 12, 15), dt.date(2023, 12, 12), from_visit=True
                ),
                _done(
                    "First joint research collaboration launched",
                    dt.date(2024, 4, 30),
                    dt.date(2024, 5, 2),
                ),
            ),
        ),
        PlannedInitiative(
            "O4",
            "Strategic planning framework for Special Technology Zones",
            "STZA",
            dt.date(2024, 2, 1),
            today + dt.timedelta(days=180),
            (
                _done(
                    VISIT_OUTCOMES[2], dt.date(2024, 9, 30), dt.date(2024, 10, 15), from_visit=True
                ),
                PlannedMilestone(
                    "Draft strategic plan reviewed by the STZA board",
                    today + dt.timedelta(days=60),
                    status="in_progress",
                    weight=2,
                ),
            ),
            weight=2,
        ),
    )


async def load_tracking(
    session: AsyncSession,
    *,
    actor: Actor,
    mou: Agreement,
    stza: Organization,
    gei: Organization,
    today: dt.date,
) -> str:
    """Record the engagements, initiatives, milestones and research of the story."""
    leads = {"STZA": stza.id, "GEI": gei.id}
    await engagements.create_engagement(
        session,
        actor=actor,
        organization_scope=None,
        payload=EngagementCreate(
            agreement_id=mou.id,
            kind="signing_ceremony",
            title="Signing of the STZA-GEI MoU",
            starts_on=SIGNING_DAY,
            location="China-Pakistan Science, Technology and Innovation Cooperation "
            "Conference, CIFTIS, Beijing",
            participant_organization_ids=[stza.id, gei.id],
            summary="The MoU is signed on the sidelines of CIFTIS.",
        ),
    )
    visit: Engagement = await engagements.create_engagement(
        session,
        actor=actor,
        organization_scope=None,
        payload=EngagementCreate(
            agreement_id=mou.id,
            kind="delegation_visit",
            title="STZA delegation visit to GEI's office",
            starts_on=VISIT_DAY,
            location="GEI office, Beijing",
            host_organization_id=gei.id,
            participant_organization_ids=[stza.id, gei.id],
            summary=(
                "A high-level STZA delegation discussed the practical implementation of the "
                "MoU's provisions and the execution of its key initiatives."
            ),
            outcomes=list(VISIT_OUTCOMES),
        ),
    )
    milestone_count = 0
    for planned in story(today):
        initiative: Initiative = await initiatives.create_initiative(
            session,
            actor=actor,
            agreement=mou,
            payload=InitiativeCreate(
                title=planned.title,
                objective_ref=planned.objective_ref,
                lead_organization_id=leads[planned.lead],
                planned_start=planned.started_on,
                planned_end=planned.planned_end,
                weight=planned.weight,
            ),
        )
        await initiatives.transition_initiative(
            session,
            actor=actor,
            agreement=mou,
            initiative=initiative,
            request=InitiativeTransition(to="in_progress", on=planned.started_on),
        )
        for step in planned.milestones:
            await milestones.create_milestone(
                session,
                actor=actor,
                initiative=initiative,
                payload=MilestoneCreate(
                    title=step.title,
                    due_on=step.due_on,
                    status=step.status,  # type: ignore[arg-type]
                    completed_on=step.completed_on,
                    weight=step.weight,
                    engagement_id=visit.id if step.from_visit else None,
                ),
            )
            milestone_count += 1
    collaboration = await research.create_collaboration(
        session,
        actor=actor,
        organization_scope=None,
        payload=ResearchCollaborationCreate(
            agreement_id=mou.id,
            title="Strategic planning for the development of Special Technology Zones",
            research_area="innovation policy and technology zone planning",
            status="active",
            start_on=dt.date(2024, 5, 2),
            participants=[
                {"organization_id": gei.id, "role": "lead"},
                {"organization_id": stza.id, "role": "partner"},
            ],
            researchers=[
                {
                    # ORCID's own fictitious test researcher: illustrative only.
                    "name": "Josiah Carberry",
                    "orcid": "0000-0002-1825-0097",
                    "organization_id": gei.id,
                    "role": "principal investigator",
                },
                {
                    "name": "Zone planning lead (STZA)",
                    "organization_id": stza.id,
                    "role": "co-investigator",
                },
            ],
        ),
    )
    await research.add_output(
        session,
        actor=actor,
        collaboration=collaboration,
        payload=OutputCreate(
            kind="report",
            title="Baseline study for Special Technology Zone strategic planning",
            doi="10.5555/stza-gei-2024-baseline",
            published_on=dt.date(2024, 10, 15),
        ),
    )
    return (
        f"{len(story(today))} initiatives with {milestone_count} milestones, "
        "2 engagements and 1 research collaboration"
    )
