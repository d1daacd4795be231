"""The later parts of an agreement's record on its page: party acts, indicators,
reports, documents.

Each comes from the service /v1 lists it with, under the same visibility; the
choices the page's forms offer come from the /v1 schemas.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import get_args

from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements import party_acts
from shared.agreements.legal_schemas import ActKind, PartyActPublic
from shared.clock import today
from shared.contacts import service as contacts
from shared.contacts.schemas import ContactPublic
from shared.documents import service as documents
from shared.documents.schemas import DocumentKind, DocumentPublic
from shared.indicators import service as indicators
from shared.indicators.schemas import IndicatorPublic
from shared.lifecycle import REPORT_OPEN_STATUSES, REPORT_TRANSITIONS
from shared.reports import service as reports
from shared.reports.schemas import ReportPublic

LIMIT = 200
ACT_KINDS: tuple[str, ...] = get_args(ActKind)
DOCUMENT_KINDS: tuple[str, ...] = get_args(DocumentKind)


@dataclass
class RecordParts:
    indicators: list[IndicatorPublic] = field(default_factory=list)
    reports: list[ReportPublic] = field(default_factory=list)
    documents: list[DocumentPublic] = field(default_factory=list)
    # Where each report may move next (the /v1 rule), for the review forms.
    report_targets: dict[uuid.UUID, tuple[str, ...]] = field(default_factory=dict)
    # Each party's acts, in the order they took place.
    party_acts: dict[uuid.UUID, list[PartyActPublic]] = field(default_factory=dict)
    act_kinds: tuple[str, ...] = ACT_KINDS
    document_kinds: tuple[str, ...] = DOCUMENT_KINDS

    def editable_reports(self) -> list[ReportPublic]:
        """Reports whose text may still be written and submitted (open or returned)."""
        return [row for row in self.reports if row.status in REPORT_OPEN_STATUSES]


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
    acts: dict[uuid.UUID, list[PartyActPublic]] = {}
    act_rows = await party_acts.list_party_acts(
        session, agreement_id=agreement_id, after=None, limit=LIMIT
    )
    for act in sorted(act_rows[:LIMIT], key=lambda row: (row.on, row.id)):
        acts.setdefault(act.organization_id, []).append(PartyActPublic.model_validate(act))
    return RecordParts(
        indicators=indicator_rows[:LIMIT],
        reports=[ReportPublic.model_validate(row) for row in report_rows[:LIMIT]],
        documents=[DocumentPublic.model_validate(row) for row in document_rows[:LIMIT]],
        report_targets={row.id: REPORT_TRANSITIONS.get(row.status, ()) for row in report_rows},
        party_acts=acts,
    )


async def reports_needing_attention(
    session: AsyncSession,
    *,
    organization_scope: uuid.UUID | None,
    due_within_days: int,
    limit: int,
) -> list[ReportPublic]:
    """Open or returned reports that are overdue or due within ``due_within_days``,
    the earliest due first: up to ``limit + 1`` (one more says the list goes on)."""
    on = today()
    rows = await reports.open_reports_due(
        session,
        organization_scope=organization_scope,
        due_before=on + dt.timedelta(days=due_within_days + 1),
        limit=limit,
    )
    return [ReportPublic.model_validate(row) for row in rows]


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
