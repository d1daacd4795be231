"""The later parts of an agreement's record on its page: indicators, reports, documents.

Each comes from the service /v1 lists it with, under the same visibility.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from shared.contacts import service as contacts
from shared.contacts.schemas import ContactPublic
from shared.documents import service as documents
from shared.documents.schemas import DocumentPublic
from shared.indicators import service as indicators
from shared.indicators.schemas import IndicatorPublic
from shared.reports import service as reports
from shared.reports.schemas import ReportPublic
from shared.validation import today

LIMIT = 200


@dataclass
class RecordParts:
    indicators: list[IndicatorPublic] = field(default_factory=list)
    reports: list[ReportPublic] = field(default_factory=list)
    documents: list[DocumentPublic] = field(default_factory=list)
    # Where each report may move next (the /v1 rule), for the review forms.
    report_targets: dict[uuid.UUID, tuple[str, ...]] = field(default_factory=dict)


async def record_parts(
    session: AsyncSession, agreement_id: uuid.UUID, *, organization_scope: uuid.UUID | None
) -> RecordParts:
    scope = {"after": None, "limit": LIMIT, "organization_scope": organization_scope}
    indicator_rows = await indicators.list_indicators(session, agreement_id=agreement_id, **scope)
    report_rows = await reports.list_reports(
        session, agreement_id=agreement_id, today=today(), **scope
    )
    document_rows = await documents.list_documents(
        session, owner_type="agreement", owner_id=agreement_id, **scope
    )
    return RecordParts(
        indicators=indicator_rows[:LIMIT],
        reports=[ReportPublic.model_validate(row) for row in report_rows[:LIMIT]],
        documents=[DocumentPublic.model_validate(row) for row in document_rows[:LIMIT]],
        report_targets={
            row.id: reports.REPORT_TRANSITIONS.get(row.status, ()) for row in report_rows
        },
    )


async def reports_needing_attention(
    session: AsyncSession, *, organization_scope: uuid.UUID | None, due_within_days: int
) -> list[ReportPublic]:
    """Open or returned reports that are overdue or due within ``due_within_days``."""
    on = today()
    rows = await reports.list_reports(
        session,
        after=None,
        limit=LIMIT,
        organization_scope=organization_scope,
        due_before=on + dt.timedelta(days=due_within_days + 1),
        today=on,
    )
    due = [ReportPublic.model_validate(row) for row in rows[:LIMIT]]
    return sorted(
        (report for report in due if report.status in ("open", "returned")),
        key=lambda report: report.due_on,
    )


async def organization_contacts(
    session: AsyncSession, organization_id: uuid.UUID, *, organization_scope: uuid.UUID | None
) -> list[ContactPublic]:
    rows = await contacts.list_contacts(
        session,
        after=None,
        limit=LIMIT,
        organization_scope=organization_scope,
        organization_id=organization_id,
    )
    return [ContactPublic.model_validate(row) for row in rows[:LIMIT]]
