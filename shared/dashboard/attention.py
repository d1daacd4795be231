"""The Attention page: what needs someone to act.

The windows are the sweep's, written once (shared.agreements.windows, the
milestones' overdue rule): live agreements expiring soon, signed or active
agreements without activity for ``DORMANCY_DAYS``, and milestones past due.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shared.agreements.visibility import visible_to
from shared.agreements.windows import dormant_on, expiring_between, with_activity
from shared.clock import today
from shared.dashboard.record import reports_needing_attention
from shared.dashboard.rows import AgreementRow, agreement_rows
from shared.milestones import service as milestones
from shared.milestones.schemas import MilestonePublic
from shared.models import Agreement
from shared.reports.schemas import ReportPublic

EXPIRING_WITHIN_DAYS = 90
LIMIT = 200
REPORTS_DUE_WITHIN_DAYS = 30


@dataclass(frozen=True)
class OverdueMilestone:
    milestone: MilestonePublic
    agreement_id: uuid.UUID
    agreement_reference: str
    days_overdue: int


@dataclass(frozen=True)
class AttentionPage:
    overdue: list[OverdueMilestone]
    expiring: list[AgreementRow]
    dormant: list[AgreementRow]
    dormancy_days: int
    reports: list[ReportPublic]
    references: dict[uuid.UUID, str]
    # The lists that go on past LIMIT (only the most urgent are shown).
    cut: frozenset[str] = frozenset()
    expiring_within_days: int = EXPIRING_WITHIN_DAYS
    reports_due_within_days: int = REPORTS_DUE_WITHIN_DAYS
    limit: int = LIMIT


def _in_view(query, organization_scope: uuid.UUID | None):  # type: ignore[no-untyped-def]
    condition = visible_to(organization_scope)
    return query if condition is None else query.where(condition)


async def attention_page(
    session: AsyncSession, *, organization_scope: uuid.UUID | None, dormancy_days: int
) -> AttentionPage:
    on = today()
    overdue_rows = await milestones.most_overdue_milestones(
        session, organization_scope=organization_scope, limit=LIMIT
    )
    due_reports = await reports_needing_attention(
        session,
        organization_scope=organization_scope,
        due_within_days=REPORTS_DUE_WITHIN_DAYS,
        limit=LIMIT,
    )
    overdue_public = [MilestonePublic.model_validate(row) for row in overdue_rows[:LIMIT]]
    shown_reports = due_reports[:LIMIT]
    agreement_ids = {row.agreement_id for row in overdue_public}
    agreement_ids |= {report.agreement_id for report in shown_reports}
    references = dict(
        (
            await session.execute(
                select(Agreement.id, Agreement.reference).where(Agreement.id.in_(agreement_ids))
            )
        ).all()
    )
    expiring = await session.scalars(
        _in_view(
            select(Agreement)
            .options(selectinload(Agreement.parties))
            .where(expiring_between(on, on + dt.timedelta(days=EXPIRING_WITHIN_DAYS)))
            .order_by(Agreement.expires_on, Agreement.id)
            .limit(LIMIT + 1),
            organization_scope,
        )
    )
    dormant = await session.scalars(
        _in_view(
            with_activity(select(Agreement).options(selectinload(Agreement.parties)))
            .where(dormant_on(on, dormancy_days))
            .order_by(Agreement.id)
            .limit(LIMIT + 1),
            organization_scope,
        )
    )
    expiring_list = list(expiring.all())
    dormant_list = list(dormant.all())
    lists = {
        "overdue": overdue_rows,
        "reports": due_reports,
        "expiring": expiring_list,
        "dormant": dormant_list,
    }
    cut = frozenset(name for name, rows in lists.items() if len(rows) > LIMIT)
    return AttentionPage(
        overdue=[
            OverdueMilestone(
                milestone=row,
                agreement_id=row.agreement_id,
                agreement_reference=references.get(row.agreement_id, ""),
                days_overdue=(on - row.due_on).days,
            )
            for row in overdue_public
        ],
        expiring=await agreement_rows(
            session, expiring_list[:LIMIT], organization_scope=organization_scope
        ),
        dormant=await agreement_rows(
            session, dormant_list[:LIMIT], organization_scope=organization_scope
        ),
        dormancy_days=dormancy_days,
        reports=shown_reports,
        references=references,
        cut=cut,
        limit=LIMIT,
    )
