"""All ORM models, imported here so that metadata (and Alembic) sees every table."""

from shared.models.access import ApiKey, AuditEntry, IdempotencyRecord, RateLimitCounter
from shared.models.contacts import Contact, FocalPoint
from shared.models.dashboard import DashboardSession
from shared.models.documents import Document, DocumentChunk
from shared.models.legal import AgreementVersion, Amendment, PartyAct
from shared.models.outbox import AggregateSequence, OutboxEvent, OutboxEventAudience
from shared.models.pipeline import (
    AgreementRollup,
    DeadLetter,
    InitiativeRollup,
    ProcessedEvent,
    SweepMark,
)
from shared.models.registry import Agreement, AgreementParty, AgreementStatusChange, Organization
from shared.models.reminders import (
    CalendarFeed,
    Notification,
    NotificationOptOut,
    NotificationSubscription,
)
from shared.models.results import Indicator, Measurement, Report
from shared.models.tracking import (
    Engagement,
    EngagementParticipant,
    Initiative,
    Milestone,
    ResearchCollaboration,
    Researcher,
    ResearchOutput,
    ResearchParticipant,
)
from shared.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "AggregateSequence",
    "Agreement",
    "AgreementParty",
    "AgreementRollup",
    "AgreementStatusChange",
    "AgreementVersion",
    "Amendment",
    "ApiKey",
    "AuditEntry",
    "CalendarFeed",
    "Contact",
    "DashboardSession",
    "DeadLetter",
    "Document",
    "DocumentChunk",
    "Engagement",
    "EngagementParticipant",
    "FocalPoint",
    "IdempotencyRecord",
    "Indicator",
    "Initiative",
    "InitiativeRollup",
    "Measurement",
    "Milestone",
    "Notification",
    "NotificationOptOut",
    "NotificationSubscription",
    "Organization",
    "OutboxEvent",
    "OutboxEventAudience",
    "PartyAct",
    "ProcessedEvent",
    "RateLimitCounter",
    "Report",
    "ResearchCollaboration",
    "ResearchOutput",
    "ResearchParticipant",
    "Researcher",
    "SweepMark",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
