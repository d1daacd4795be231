"""Request and response bodies of research collaborations and their outputs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from shared.lifecycle import ResearchStatus
from shared.validation import Doi, Orcid, Patch, RequestBody, bounded_text

ParticipantRole = Literal["lead", "partner", "funder"]
OutputKind = Literal["publication", "report", "dataset", "software", "patent", "policy_brief"]
Title = bounded_text(500)
ResearchArea = bounded_text(200)
PersonName = bounded_text(300)
ResearcherRole = bounded_text(100)
WebAddress = Annotated[
    str,
    # \x85 spelt out: Unicode (the server's regex) counts it as whitespace, ECMA-262 does not.
    # \x00 too: the server refuses a NUL in any text, so the pattern says so.
    StringConstraints(pattern=r"^https?://[^\s\x85\x00/?#]+[^\s\x85\x00]*$", max_length=2048),
    Field(description="An http(s) URL.", examples=["https://example.org/report.pdf"]),
]


class Participant(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    organization_id: uuid.UUID
    role: ParticipantRole


class Researcher(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    name: PersonName  # type: ignore[valid-type]
    orcid: Orcid | None = None
    organization_id: uuid.UUID = Field(description="One of the collaboration's participants.")
    role: ResearcherRole = Field(  # type: ignore[valid-type]
        description="Free text, e.g. `principal investigator`."
    )


class OutputCreate(RequestBody):
    kind: OutputKind
    title: Title  # type: ignore[valid-type]
    doi: Doi | None = None
    url: WebAddress | None = None
    published_on: dt.date | None = None


class OutputPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: OutputKind
    title: str
    doi: str | None
    url: str | None
    published_on: dt.date | None


def _one_lead(participants: list[Participant] | None) -> list[Participant] | None:
    if participants is None:
        return None
    seen: set[uuid.UUID] = set()
    for participant in participants:
        if participant.organization_id in seen:
            raise ValueError(f"organization {participant.organization_id} is listed twice")
        seen.add(participant.organization_id)
    leads = sum(1 for participant in participants if participant.role == "lead")
    if leads != 1:
        raise ValueError(f"exactly one participant must have role lead (found {leads})")
    return participants


def check_dates(start_on: dt.date | None, end_on: dt.date | None) -> None:
    if start_on and end_on and end_on < start_on:
        raise ValueError("end_on must not be before start_on")


class ResearchCollaborationCreate(RequestBody):
    agreement_id: uuid.UUID | None = Field(
        default=None, description="The agreement it grew from, if any."
    )
    title: Title  # type: ignore[valid-type]
    research_area: ResearchArea  # type: ignore[valid-type]
    status: ResearchStatus = "proposed"
    start_on: dt.date | None = None
    end_on: dt.date | None = None
    participants: list[Participant] = Field(
        min_length=1, max_length=100, description="Exactly one with role `lead`."
    )
    researchers: list[Researcher] = Field(default_factory=list, max_length=500)
    outputs: list[OutputCreate] = Field(default_factory=list, max_length=500)

    _participants_valid = field_validator("participants")(_one_lead)

    @model_validator(mode="after")
    def _check_dates(self) -> ResearchCollaborationCreate:
        check_dates(self.start_on, self.end_on)
        return self


class ResearchCollaborationUpdate(Patch):
    """Fields to change; lists given replace the stored ones. `agreement_id` is
    fixed at creation. `status` follows proposed -> active -> concluded, and
    proposed | active -> cancelled."""

    required_fields = ("title", "research_area", "status", "participants", "researchers", "outputs")

    title: Title | None = None  # type: ignore[valid-type]
    research_area: ResearchArea | None = None  # type: ignore[valid-type]
    status: ResearchStatus | None = None
    start_on: dt.date | None = None
    end_on: dt.date | None = None
    participants: list[Participant] | None = Field(default=None, min_length=1, max_length=100)
    researchers: list[Researcher] | None = Field(default=None, max_length=500)
    outputs: list[OutputCreate] | None = Field(default=None, max_length=500)

    _participants_valid = field_validator("participants")(_one_lead)


class ResearchCollaborationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    agreement_id: uuid.UUID | None
    title: str
    research_area: str
    status: ResearchStatus
    start_on: dt.date | None
    end_on: dt.date | None
    participants: list[Participant]
    researchers: list[Researcher]
    outputs: list[OutputPublic]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def as_public(collaboration: object) -> dict[str, object]:
    return ResearchCollaborationPublic.model_validate(collaboration).model_dump(mode="json")
