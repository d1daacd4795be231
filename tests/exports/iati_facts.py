"""Plain IATI facts for tests of the mapping and the validator (no database)."""

from __future__ import annotations

import datetime as dt
import uuid

from shared.iati.facts import (
    AgreementFacts,
    DocumentFacts,
    ExportContext,
    IndicatorFacts,
    InitiativeFacts,
    OrganizationFacts,
    PartyFacts,
    ReportingOrg,
)

TODAY = dt.date(2026, 12, 1)
UPDATED = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
CONTEXT = ExportContext(
    reporting_org=ReportingOrg(ref="PK-GOV-STZA", type="10", name="STZA"),
    public_url="https://accords.example.org",
    language="en",
    today=TODAY,
    reporting_country="PK",
)
STZA = OrganizationFacts(
    uuid.uuid4(), "Special Technology Zones Authority", "government_agency", "PK", "PK-GOV-STZA"
)
GEI = OrganizationFacts(
    uuid.uuid4(), "Great Wall Enterprise Institute", "research_institute", "CN", None
)


def indicator(**overrides: object) -> IndicatorFacts:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "title": "Policymakers trained",
        "measure": "unit",
        "unit": "policymakers trained",
        "baseline": {"value": 0, "on": "2023-10-01"},
        "target": {"value": 120, "on": "2025-12-31"},
        "objective_ref": "O1",
        "latest_value": 35,
        "latest_on": dt.date(2024, 6, 30),
    }
    values.update(overrides)
    return IndicatorFacts(**values)  # type: ignore[arg-type]


def initiative(**overrides: object) -> InitiativeFacts:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "title": "Capacity-building programme",
        "description": None,
        "status": "in_progress",
        "objective_ref": "O1",
        "lead_organization_id": GEI.id,
        "planned_start": dt.date(2023, 10, 1),
        "planned_end": dt.date(2025, 12, 31),
        "actual_start": dt.date(2023, 10, 2),
        "actual_end": None,
        "registered_on": dt.date(2023, 9, 20),
        "updated_at": UPDATED,
        "indicators": [indicator()],
    }
    values.update(overrides)
    return InitiativeFacts(**values)  # type: ignore[arg-type]


def document(**overrides: object) -> DocumentFacts:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "kind": "signed_copy",
        "title": "Signed MoU",
        "filename": "mou.pdf",
        "media_type": "application/pdf",
        "language": "zh-Hans",
        "created_on": dt.date(2023, 9, 5),
    }
    values.update(overrides)
    return DocumentFacts(**values)  # type: ignore[arg-type]


def agreement(**overrides: object) -> AgreementFacts:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "reference": "STZA-GEI-MOU-2023",
        "title": "MoU between STZA and GEI",
        "summary": None,
        "objectives": [{"ref": "O1", "text": "Capacity building of policymakers."}],
        "instrument_type": "mou",
        "status": "active",
        "signed_on": dt.date(2023, 9, 4),
        "effective_from": dt.date(2023, 9, 4),
        "expires_on": dt.date(2028, 9, 4),
        "registered_on": dt.date(2023, 9, 1),
        "updated_at": UPDATED,
        "ended_on": None,
        "parties": [PartyFacts(STZA, "signatory"), PartyFacts(GEI, "signatory")],
        "initiatives": [initiative()],
        "documents": [document()],
    }
    values.update(overrides)
    return AgreementFacts(**values)  # type: ignore[arg-type]
