"""The event catalogue: each event type, what it means, and the model of its ``data``.

``data`` is the resource as the API returns it (its ``...Public`` schema),
plus the fields a few types add (``previous_status`` on status changes, the
sweep's counts). The models below are those public schemas with the extra
fields declared and nothing else allowed, so the JSON Schemas served by
``GET /v1/event-types`` and the OpenAPI ``webhooks`` cannot drift from what
is sent: the test suite validates real events against them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.agreements.schemas import AgreementPublic, AgreementStatus
from shared.contacts.schemas import ContactPublic, FocalPointsPublic
from shared.documents.schemas import DocumentPublic
from shared.engagements.schemas import EngagementPublic
from shared.indicators.schemas import IndicatorPublic, MeasurementPublic
from shared.initiatives.schemas import InitiativePublic, InitiativeStatus
from shared.milestones.schemas import MilestonePublic, MilestoneStatus
from shared.organizations.schemas import OrganizationPublic
from shared.reports.schemas import ReportPublic
from shared.research_collaborations.schemas import OutputPublic, ResearchCollaborationPublic
from shared.rollups.schemas import AgreementRollupPublic, Health
from shared.webhooks.rules import TEST_EVENT_TYPE
from shared.webhooks.schemas import WebhookEndpointPublic

# Nothing but the declared fields; the resource's own example (which lacks
# the extra fields) is not inherited.
_EXACT = ConfigDict(extra="forbid", json_schema_extra=None)


class OrganizationData(OrganizationPublic):
    model_config = _EXACT


class AgreementData(AgreementPublic):
    model_config = _EXACT


class AgreementStatusChangedData(AgreementPublic):
    model_config = _EXACT
    previous_status: AgreementStatus
    reason: str | None = Field(description="The reason given with the transition.")


class AgreementHealthChangedData(AgreementRollupPublic):
    model_config = _EXACT
    previous_health: Health


class AgreementExpiringData(AgreementPublic):
    model_config = _EXACT
    days_before_expiry: int = Field(description="The reminder this is (e.g. 30 or 7 days).")
    days_left: int = Field(description="Days from today to `expires_on`.")


class AgreementDormantData(AgreementPublic):
    model_config = _EXACT
    last_activity_at: dt.datetime
    dormancy_days: int = Field(description="The dormancy threshold (`ACCORDS_DORMANCY_DAYS`).")


class InitiativeData(InitiativePublic):
    model_config = _EXACT


class InitiativeStatusChangedData(InitiativePublic):
    model_config = _EXACT
    previous_status: InitiativeStatus
    reason: str | None
    agreement_status: AgreementStatus | None = Field(
        default=None,
        description="Present when the move followed the agreement's (suspension, resumption, "
        "termination): the agreement's new status.",
    )


class MilestoneData(MilestonePublic):
    model_config = _EXACT


class MilestoneChangedData(MilestonePublic):
    model_config = _EXACT
    previous_status: MilestoneStatus | None = Field(
        default=None, description="Present when the status changed: the status before."
    )


class MilestoneOverdueData(MilestonePublic):
    model_config = _EXACT
    days_overdue: int


class EngagementData(EngagementPublic):
    model_config = _EXACT


class ResearchCollaborationData(ResearchCollaborationPublic):
    model_config = _EXACT


class ResearchCollaborationStatusChangedData(ResearchCollaborationPublic):
    model_config = _EXACT
    previous_status: str


class ResearchOutputAddedData(ResearchCollaborationPublic):
    model_config = _EXACT
    output: OutputPublic = Field(description="The output just added.")


class WebhookEndpointData(WebhookEndpointPublic):
    model_config = _EXACT


class ContactData(ContactPublic):
    model_config = _EXACT


class FocalPointsData(FocalPointsPublic):
    model_config = _EXACT


class DocumentData(DocumentPublic):
    model_config = _EXACT


class IndicatorData(IndicatorPublic):
    model_config = _EXACT


class IndicatorMeasuredData(IndicatorPublic):
    model_config = _EXACT
    measurement: MeasurementPublic = Field(description="The measurement just recorded.")


class ReportData(ReportPublic):
    model_config = _EXACT


class ReportMovedData(ReportPublic):
    model_config = _EXACT
    previous_status: str
    comment: str | None = Field(description="The comment given with the move.")


class ReportReminderData(ReportPublic):
    model_config = _EXACT
    days_left: int = Field(description="Days from today to `due_on` (negative once overdue).")


class WebhookTestData(BaseModel):
    model_config = _EXACT
    endpoint_id: uuid.UUID
    message: str


@dataclass(frozen=True)
class EventType:
    type: str
    description: str
    data: type[BaseModel]


_CATALOGUE = (
    EventType("organization.created", "An organization was registered.", OrganizationData),
    EventType("organization.updated", "An organization's fields changed.", OrganizationData),
    EventType(
        "organization.deleted", "An organization was deleted (its last state).", OrganizationData
    ),
    EventType("agreement.created", "An agreement was registered, in `draft`.", AgreementData),
    EventType("agreement.updated", "An agreement's fields changed.", AgreementData),
    EventType("agreement.deleted", "An agreement was deleted (its last state).", AgreementData),
    EventType(
        "agreement.status_changed",
        "An agreement moved along its lifecycle (`previous_status` -> `status`).",
        AgreementStatusChangedData,
    ),
    EventType(
        "agreement.health_changed",
        "An agreement's rollup health changed; `data` is the new rollup.",
        AgreementHealthChangedData,
    ),
    EventType(
        "agreement.expiring",
        "An agreement's `expires_on` is near (sent by the sweep, once per reminder).",
        AgreementExpiringData,
    ),
    EventType(
        "agreement.dormant",
        "Nothing happened under an agreement for `dormancy_days` (sent by the sweep).",
        AgreementDormantData,
    ),
    EventType(
        "initiative.created", "An initiative was created under an agreement.", InitiativeData
    ),
    EventType("initiative.updated", "An initiative's fields changed.", InitiativeData),
    EventType("initiative.deleted", "An initiative was deleted (its last state).", InitiativeData),
    EventType(
        "initiative.status_changed",
        "An initiative changed status, by a transition or following its agreement.",
        InitiativeStatusChangedData,
    ),
    EventType("milestone.created", "A milestone was added to an initiative.", MilestoneData),
    EventType("milestone.updated", "A milestone's fields or status changed.", MilestoneChangedData),
    EventType("milestone.deleted", "A milestone was deleted (its last state).", MilestoneData),
    EventType("milestone.completed", "A milestone became `done`.", MilestoneChangedData),
    EventType(
        "milestone.overdue",
        "A milestone passed its due date without being done (sent once by the sweep).",
        MilestoneOverdueData,
    ),
    EventType("engagement.recorded", "A meeting, visit, ceremony... was recorded.", EngagementData),
    EventType("engagement.updated", "An engagement's fields changed.", EngagementData),
    EventType("engagement.deleted", "An engagement was deleted (its last state).", EngagementData),
    EventType(
        "research_collaboration.created",
        "A research collaboration was registered.",
        ResearchCollaborationData,
    ),
    EventType(
        "research_collaboration.updated",
        "A research collaboration's fields changed.",
        ResearchCollaborationData,
    ),
    EventType(
        "research_collaboration.deleted",
        "A research collaboration was deleted (its last state).",
        ResearchCollaborationData,
    ),
    EventType(
        "research_collaboration.status_changed",
        "A research collaboration changed status.",
        ResearchCollaborationStatusChangedData,
    ),
    EventType(
        "research_collaboration.output_added",
        "A publication, dataset, patent... was added to a research collaboration.",
        ResearchOutputAddedData,
    ),
    EventType(
        "webhook_endpoint.disabled",
        "A webhook endpoint was disabled (by the API, a 410, or 5 days of failures).",
        WebhookEndpointData,
    ),
    EventType("contact.created", "A contact person was added to an organization.", ContactData),
    EventType("contact.updated", "A contact's fields changed.", ContactData),
    EventType("contact.deleted", "A contact was deleted (their last state).", ContactData),
    EventType(
        "agreement.focal_points_changed",
        "The agreement's focal points were replaced.",
        FocalPointsData,
    ),
    EventType("document.added", "A document was uploaded (metadata only).", DocumentData),
    EventType("document.updated", "A document's metadata changed.", DocumentData),
    EventType("document.deleted", "A document was deleted (its last metadata).", DocumentData),
    EventType("indicator.created", "An indicator was defined for an initiative.", IndicatorData),
    EventType("indicator.updated", "An indicator's fields changed.", IndicatorData),
    EventType("indicator.deleted", "An indicator was deleted (its last state).", IndicatorData),
    EventType(
        "indicator.measured",
        "A measurement was recorded; `data` is the indicator with its new `latest`.",
        IndicatorMeasuredData,
    ),
    EventType("report.opened", "A reporting period began: its report is open.", ReportData),
    EventType("report.updated", "A report's draft text changed.", ReportData),
    EventType("report.submitted", "A report was submitted for review.", ReportMovedData),
    EventType("report.accepted", "A submitted report was accepted.", ReportMovedData),
    EventType("report.returned", "A submitted report was returned for changes.", ReportMovedData),
    EventType(
        "report.due", "A report is due within 7 days (sent once by the sweep).", ReportReminderData
    ),
    EventType(
        "report.overdue",
        "A report passed its due date unsubmitted (sent once by the sweep).",
        ReportReminderData,
    ),
    EventType(
        TEST_EVENT_TYPE,
        "A test event, sent by `POST /v1/webhook-endpoints/{id}/test` to that endpoint only.",
        WebhookTestData,
    ),
)

CATALOGUE: dict[str, EventType] = {entry.type: entry for entry in _CATALOGUE}


@cache
def data_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of the event type's ``data``, self-contained."""
    return CATALOGUE[event_type].data.model_json_schema(mode="serialization")
