"""What an IATI activity is built from: plain values loaded by ``shared.iati.source``.

Keeping the loading apart from the XML makes the mapping a pure function,
tested without a database, and lets the export load agreements a batch at a
time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ReportingOrg:
    """The publisher (``ACCORDS_IATI_REPORTING_ORG_REF`` / ``_TYPE`` / ``_NAME``)."""

    ref: str
    type: str
    name: str


@dataclass(frozen=True)
class ExportContext:
    reporting_org: ReportingOrg
    public_url: str
    language: str
    today: dt.date
    # The reporting organization's country, left out of recipient-country.
    reporting_country: str | None = None


@dataclass(frozen=True)
class OrganizationFacts:
    id: uuid.UUID
    name: str
    kind: str
    country: str
    iati_ref: str | None


@dataclass(frozen=True)
class PartyFacts:
    organization: OrganizationFacts
    role: str


@dataclass(frozen=True)
class DocumentFacts:
    id: uuid.UUID
    kind: str
    title: str | None
    filename: str
    media_type: str
    language: str | None
    created_on: dt.date


@dataclass(frozen=True)
class IndicatorFacts:
    id: uuid.UUID
    title: str
    measure: str
    unit: str | None
    baseline: dict[str, Any] | None
    target: dict[str, Any] | None
    objective_ref: str | None
    latest_value: Any = None
    latest_on: dt.date | None = None


@dataclass(frozen=True)
class InitiativeFacts:
    id: uuid.UUID
    title: str
    description: str | None
    status: str
    objective_ref: str | None
    lead_organization_id: uuid.UUID
    planned_start: dt.date | None
    planned_end: dt.date | None
    actual_start: dt.date | None
    actual_end: dt.date | None
    registered_on: dt.date
    updated_at: dt.datetime
    indicators: list[IndicatorFacts] = field(default_factory=list)


@dataclass(frozen=True)
class AgreementFacts:
    id: uuid.UUID
    reference: str
    title: str
    summary: str | None
    objectives: list[dict[str, str]]
    instrument_type: str
    status: str
    signed_on: dt.date | None
    effective_from: dt.date | None
    expires_on: dt.date | None
    registered_on: dt.date
    updated_at: dt.datetime
    ended_on: dt.date | None
    parties: list[PartyFacts]
    initiatives: list[InitiativeFacts] = field(default_factory=list)
    documents: list[DocumentFacts] = field(default_factory=list)
