"""All ORM models, imported here so that metadata (and Alembic) sees every table."""

from shared.models.access import ApiKey, AuditEntry
from shared.models.outbox import AggregateSequence, OutboxEvent
from shared.models.registry import Agreement, AgreementParty, AgreementStatusChange, Organization

__all__ = [
    "AggregateSequence",
    "Agreement",
    "AgreementParty",
    "AgreementStatusChange",
    "ApiKey",
    "AuditEntry",
    "Organization",
    "OutboxEvent",
]
