"""The resources that export as spreadsheets (SPEC section 14)."""

from __future__ import annotations

from shared.agreements import reads as agreements
from shared.agreements.schemas import AgreementPublic
from shared.engagements import service as engagements
from shared.engagements.schemas import EngagementPublic
from shared.exports.sheets import Sheet
from shared.indicators import service as indicators
from shared.indicators.schemas import IndicatorPublic
from shared.initiatives import service as initiatives
from shared.initiatives.schemas import InitiativePublic
from shared.milestones import service as milestones
from shared.milestones.schemas import MilestonePublic
from shared.reports import service as reports
from shared.reports.schemas import ReportPublic

SHEETS: dict[str, Sheet] = {
    sheet.name: sheet
    for sheet in (
        Sheet("agreements", agreements.list_agreements, AgreementPublic),
        Sheet("initiatives", initiatives.list_initiatives, InitiativePublic),
        Sheet("milestones", milestones.list_milestones, MilestonePublic),
        Sheet("indicators", indicators.list_indicators, IndicatorPublic),
        Sheet("reports", reports.list_reports, ReportPublic),
        Sheet("engagements", engagements.list_engagements, EngagementPublic),
    )
}
