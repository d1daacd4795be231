"""All ORM models, imported here so that metadata (and Alembic) sees every table."""

from shared.models.access import ApiKey, AuditEntry
from shared.models.outbox import AggregateSequence, OutboxEvent
from shared.models.registry import Agreement, AgreementParty, AgreementStatusChange, Organization
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
    "AgreementStatusChange",
    "ApiKey",
    "AuditEntry",
    "Engagement",
    "EngagementParticipant",
    "Initiative",
    "Milestone",
    "Organization",
    "OutboxEvent",
    "ResearchCollaboration",
    "ResearchOutput",
    "ResearchParticipant",
    "Researcher",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
