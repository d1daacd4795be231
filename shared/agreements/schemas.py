"""Request and response bodies of agreements and their lifecycle."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.lifecycle import AgreementStatus
from shared.reports.schedule import ReportingSchedule
from shared.validation import Patch, RequestBody, bounded_text

InstrumentType = Literal[
    "mou",
    "moa",
    "framework_agreement",
    "letter_of_intent",
    "implementing_arrangement",
    "contract",
    "treaty",
]
LegalCharacter = Literal["binding", "non_binding"]
PartyRole = Literal["signatory", "implementing_partner", "funder", "witness", "observer"]
Reference = bounded_text(100)
Title = bounded_text(500)
FocusArea = bounded_text(100)
ObjectiveRef = bounded_text(20)
ObjectiveText = bounded_text(2000)


class Party(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    organization_id: uuid.UUID
    role: PartyRole


class PartyPublic(Party):
    """A party as the API shows it: its role, and the dates its acts give."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)

    signed_on: dt.date | None = Field(
        default=None, description="Its latest `signature` act, or null."
    )
    consented_on: dt.date | None = Field(
        default=None,
        description="Its latest `ratification`, `acceptance`, `approval` or `accession`, or null.",
    )
    withdrawn_on: dt.date | None = Field(default=None, description="Its `withdrawal`, or null.")


class Objective(RequestBody):
    ref: ObjectiveRef = Field(description="Short, unique label, e.g. `O1`.")  # type: ignore[valid-type]
    text: ObjectiveText  # type: ignore[valid-type]


def _unique_parties(parties: list[Party] | None) -> list[Party] | None:
    """No organization listed twice (``None``, a PATCH leaving parties alone, passes)."""
    seen: set[uuid.UUID] = set()
    for party in parties or ():
        if party.organization_id in seen:
            raise ValueError(f"organization {party.organization_id} is listed twice")
        seen.add(party.organization_id)
    return parties


def _unique_refs(objectives: list[Objective] | None) -> list[Objective] | None:
    """No objective ref used twice (``None``, a PATCH leaving objectives alone, passes)."""
    refs = [objective.ref for objective in objectives or ()]
    duplicates = sorted({ref for ref in refs if refs.count(ref) > 1})
    if duplicates:
        raise ValueError(f"objective refs must be unique; repeated: {', '.join(duplicates)}")
    return objectives


def _dates_in_order(effective_from: dt.date | None, expires_on: dt.date | None) -> None:
    if effective_from and expires_on and expires_on <= effective_from:
        raise ValueError("expires_on must be after effective_from")


class AgreementCreate(RequestBody):
    reference: Reference = Field(description="Unique reference, e.g. `STZA-GEI-2023-01`.")  # type: ignore[valid-type]
    title: Title  # type: ignore[valid-type]
    instrument_type: InstrumentType
    legal_character: LegalCharacter
    summary: str | None = Field(default=None, max_length=20_000)
    focus_areas: list[FocusArea] = Field(default_factory=list, max_length=50)  # type: ignore[valid-type]
    objectives: list[Objective] = Field(default_factory=list, max_length=100)
    signed_on: dt.date | None = None
    signed_at: str | None = Field(default=None, max_length=500, description="Venue or occasion.")
    effective_from: dt.date | None = None
    expires_on: dt.date | None = None
    parties: list[Party] = Field(min_length=1, max_length=100)
    reporting: ReportingSchedule | None = Field(
        default=None, description="The periodic reports a party owes (SPEC 11); optional."
    )

    _parties_unique = field_validator("parties")(_unique_parties)
    _refs_unique = field_validator("objectives")(_unique_refs)

    @model_validator(mode="after")
    def _check_dates(self) -> AgreementCreate:
        _dates_in_order(self.effective_from, self.expires_on)
        return self


class AgreementUpdate(Patch):
    """Fields to change; `status` changes only through transitions."""

    required_fields = (
        "reference",
        "title",
        "instrument_type",
        "legal_character",
        "focus_areas",
        "objectives",
        "parties",
    )

    reference: Reference | None = None  # type: ignore[valid-type]
    title: Title | None = None  # type: ignore[valid-type]
    instrument_type: InstrumentType | None = None
    legal_character: LegalCharacter | None = None
    summary: str | None = Field(default=None, max_length=20_000)
    focus_areas: list[FocusArea] | None = Field(default=None, max_length=50)  # type: ignore[valid-type]
    objectives: list[Objective] | None = Field(default=None, max_length=100)
    signed_on: dt.date | None = None
    signed_at: str | None = Field(default=None, max_length=500)
    effective_from: dt.date | None = None
    expires_on: dt.date | None = None
    parties: list[Party] | None = Field(default=None, min_length=1, max_length=100)
    reporting: ReportingSchedule | None = Field(
        default=None,
        description="A new reporting schedule (null removes it); reports already opened "
        "keep their periods.",
    )

    _parties_unique = field_validator("parties")(_unique_parties)
    _refs_unique = field_validator("objectives")(_unique_refs)


class AgreementPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    reference: str
    title: str
    instrument_type: InstrumentType
    legal_character: LegalCharacter
    summary: str | None
    focus_areas: list[str]
    objectives: list[Objective]
    signed_on: dt.date | None
    signed_at: str | None
    effective_from: dt.date | None
    expires_on: dt.date | None
    parties: list[PartyPublic]
    reporting: ReportingSchedule | None = None
    status: AgreementStatus
    terms_version: int = Field(
        description="The terms version in force (1, then one more per applied amendment)."
    )
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class TransitionRequest(RequestBody):
    to: AgreementStatus
    reason: str | None = Field(default=None, max_length=2000)
    on: dt.date | None = Field(
        default=None, description="When the move took effect (e.g. the signing date)."
    )


class StatusChangePublic(BaseModel):
    """One entry of an agreement's lifecycle history."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    from_: AgreementStatus = Field(alias="from", validation_alias="from_status")
    to: AgreementStatus = Field(validation_alias="to_status")
    reason: str | None
    on: dt.date | None
    at: dt.datetime
    api_key_id: uuid.UUID | None


def validate_dates(effective_from: dt.date | None, expires_on: dt.date | None) -> None:
    """Date order of a merged (existing + patched) agreement."""
    _dates_in_order(effective_from, expires_on)
