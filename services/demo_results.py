"""The results half of the reference story (SPEC section 16): indicators and reports.

An indicator per objective of the MoU, with a baseline at signing, a target
and a measurement; GEI reports quarterly to STZA. The figures are
illustrative (the press release gives none). The reporting schedule starts
on the first day of the month three months before the story is loaded, so
that exactly two periods have started: the first report is submitted and
accepted (its measurements become the indicators' latest values), the second
is open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements import service as agreements
from shared.agreements.schemas import AgreementUpdate
from shared.events import Actor
from shared.indicators import service as indicators
from shared.indicators.schemas import IndicatorCreate, MeasurementCreate, Reading
from shared.models import Agreement, Initiative, Organization
from shared.reports import service as reports
from shared.reports.opening import open_due_reports
from shared.reports.periods import add_months
from shared.reports.schedule import ReportingSchedule
from shared.reports.schemas import ReportMeasurement, ReportTransition, ReportUpdate

SIGNING_DAY = dt.date(2023, 9, 4)


@dataclass(frozen=True)
class PlannedIndicator:
    objective_ref: str
    title: str
    measure: str
    unit: str | None
    baseline: float | str
    target: float | str
    target_on: dt.date
    measured: float | str | None = None  # measured directly (else through the report)
    measured_on: dt.date | None = None
    reported: float | None = None  # carried by the accepted report


INDICATORS = (
    PlannedIndicator(
        "O1",
        "Policymakers trained in science, technology and innovation policy",
        "unit",
        "policymakers trained",
        0,
        120,
        dt.date(2026, 12, 31),
        reported=35,
    ),
    PlannedIndicator(
        "O2",
        "Innovation ecosystem partnerships established",
        "unit",
        "partnerships",
        0,
        10,
        dt.date(2027, 6, 30),
        measured=3,
        measured_on=dt.date(2024, 6, 30),
    ),
    PlannedIndicator(
        "O3",
        "Joint research publications",
        "unit",
        "publications",
        0,
        6,
        dt.date(2027, 12, 31),
        reported=2,
    ),
    PlannedIndicator(
        "O4",
        "Strategic plan for the Special Technology Zones",
        "qualitative",
        None,
        "No zone-level strategic plan",
        "Strategic plan adopted for the pilot zones",
        dt.date(2026, 6, 30),
        measured="Baseline study done; draft plan under consultation",
        measured_on=dt.date(2024, 9, 30),
    ),
)


async def load_results(
    session: AsyncSession,
    *,
    actor: Actor,
    mou: Agreement,
    stza: Organization,
    gei: Organization,
    today: dt.date,
) -> str:
    """Record the indicators, the reporting schedule and the first two reports."""
    initiative_by_objective = {
        initiative.objective_ref: initiative
        for initiative in (
            await session.scalars(select(Initiative).where(Initiative.agreement_id == mou.id))
        ).all()
    }
    reported: list[ReportMeasurement] = []
    for planned in INDICATORS:
        shown = await indicators.create_indicator(
            session,
            actor=actor,
            agreement=mou,
            initiative=initiative_by_objective[planned.objective_ref],
            payload=IndicatorCreate(
                title=planned.title,
                measure=planned.measure,  # type: ignore[arg-type]
                unit=planned.unit,
                baseline=Reading(value=planned.baseline, on=SIGNING_DAY),
                target=Reading(value=planned.target, on=planned.target_on),
                objective_ref=planned.objective_ref,
            ),
        )
        if planned.measured is not None and planned.measured_on is not None:
            indicator = await indicators.get_indicator(session, shown.id, for_update=True)
            await indicators.record_measurement(
                session,
                actor=actor,
                indicator=indicator,
                payload=MeasurementCreate(value=planned.measured, on=planned.measured_on),
            )
        if planned.reported is not None:
            reported.append(
                ReportMeasurement(indicator_id=shown.id, value=planned.reported, on=today)
            )
    first_period_start = add_months(today.replace(day=1), -3)
    await agreements.update_agreement(
        session,
        actor=actor,
        agreement=mou,
        payload=AgreementUpdate(
            reporting=ReportingSchedule(
                frequency="quarterly",
                first_period_start=first_period_start,
                due_days=30,
                reporter_organization_id=gei.id,
            )
        ),
    )
    opened = await open_due_reports(session, today)
    first, *_ = sorted(
        (report for report in opened if report.agreement_id == mou.id),
        key=lambda report: report.period_start,
    )
    on = first.period_end
    await reports.update_report(
        session,
        actor=actor,
        report=first,
        payload=ReportUpdate(
            narrative=(
                "GEI ran the first two training cohorts for STZA policymakers in Beijing "
                "and agreed the joint research agenda decided during the delegation visit."
            ),
            challenges="Visa lead times delayed the second cohort by three weeks.",
            next_steps="A third cohort, and a joint workshop on zone master planning.",
            measurements=[m.model_copy(update={"on": on}) for m in reported],
        ),
    )
    for target, comment in (("submitted", None), ("accepted", "Thank you; accepted by STZA.")):
        await reports.transition_report(
            session,
            actor=actor,
            report=first,
            request=ReportTransition(to=target, comment=comment),  # type: ignore[arg-type]
            caller_organization_id=None,
        )
    return (
        f"{len(INDICATORS)} indicators, and quarterly reporting by GEI to STZA with "
        "one report accepted and one open"
    )
