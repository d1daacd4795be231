"""Request and response bodies of the legal record: party acts, amendments,
terms versions (SPEC §10)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from shared.agreements.schemas import (
    FocusArea,
    Objective,
    Party,
    Title,
    _dates_in_order,
    _unique_parties,
    _unique_refs,
)
from shared.clock import today
from shared.validation import NeverNull, RequestBody

ActKind = Literal["signature", "ratification", "acceptance", "approval", "accession", "withdrawal"]
AmendmentKind = Literal[
    "extension", "terms", "parties", "objectives", "termination_notice", "other"
]
AmendmentStatus = Literal["pending", "applied", "withdrawn"]

_SIGNATURE_EXAMPLE = {
    "organization_id": "0192a3b4-0000-7000-8000-00000000a001",
    "act": "signature",
    "on": "2023-09-04",
    "signed_by_name": "Chairman, STZA",
    "signed_by_title": "Chairman",
    "place": "China-Pakistan Science, Technology and Innovation Cooperation Conference, "
    "CIFTIS, Beijing",
}


class PartyActCreate(RequestBody):
    model_config = ConfigDict(json_schema_extra={"examples": [_SIGNATURE_EXAMPLE]})

    organization_id: uuid.UUID = Field(description="A party of the agreement.")
    act: ActKind
    on: dt.date = Field(description="When the act took place (today or earlier).")
    signed_by_name: str | None = Field(default=None, min_length=1, max_length=300)
    signed_by_title: str | None = Field(default=None, min_length=1, max_length=300)
    place: str | None = Field(default=None, min_length=1, max_length=500)
    note: str | None = Field(default=None, max_length=5000)

    @field_validator("on")
    @classmethod
    def _not_in_the_future(cls, on: dt.date) -> dt.date:
        if on > today():
            raise ValueError(f"an act cannot be dated in the future (today is {today()})")
        return on


class PartyActPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "0192a3b4-0000-7000-8000-00000000c001",
                    "agreement_id": "0192a3b4-0000-7000-8000-00000000b001",
                    **_SIGNATURE_EXAMPLE,
                    "note": None,
                    "version": 1,
                    "created_at": "2023-09-04T10:00:00Z",
                    "updated_at": "2023-09-04T10:00:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    agreement_id: uuid.UUID
    organization_id: uuid.UUID
    act: ActKind
    on: dt.date
    signed_by_name: str | None
    signed_by_title: str | None
    place: str | None
    note: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


# Terms an amendment may leave out but never set to null.
_TERMS_NEVER_NULL = ("title", "focus_areas", "objectives", "parties")
_AMENDMENT_NEVER_NULL = ("title", "kind", "effective_from", "changes")


class AmendmentChanges(NeverNull):
    """A partial agreement: the terms an amendment changes, checked by the
    agreement's own rules."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})
    required_fields = _TERMS_NEVER_NULL

    title: Title | None = None  # type: ignore[valid-type]
    summary: str | None = Field(default=None, max_length=20_000)
    focus_areas: list[FocusArea] | None = Field(default=None, max_length=50)  # type: ignore[valid-type]
    objectives: list[Objective] | None = Field(default=None, max_length=100)
    parties: list[Party] | None = Field(default=None, min_length=1, max_length=100)
    effective_from: dt.date | None = None
    expires_on: dt.date | None = None

    @model_validator(mode="before")
    @classmethod
    def _something_changes(cls, values: Any) -> Any:
        if isinstance(values, dict) and not values:
            raise ValueError("changes must name at least one term")
        return values

    _parties_unique = field_validator("parties")(_unique_parties)
    _refs_unique = field_validator("objectives")(_unique_refs)

    @model_validator(mode="after")
    def _check_dates(self) -> AmendmentChanges:
        _dates_in_order(self.effective_from, self.expires_on)
        return self

    def as_dict(self) -> dict[str, Any]:
        """The changed terms, JSON-ready (as stored and shown)."""
        return self.model_dump(mode="json", exclude_unset=True)


_EXTENSION_EXAMPLE = {
    "title": "Extension of the MoU by two years",
    "kind": "extension",
    "summary": "Both parties agree to extend the MoU until 2030-09-04.",
    "signed_on": "2028-06-01",
    "effective_from": "2028-09-03",
    "changes": {"expires_on": "2030-09-04"},
}


class AmendmentCreate(RequestBody):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXTENSION_EXAMPLE]})

    title: Title  # type: ignore[valid-type]
    kind: AmendmentKind
    summary: str | None = Field(default=None, max_length=20_000)
    signed_on: dt.date | None = None
    effective_from: dt.date = Field(
        description="From when the changes apply: at once when today or past, else on that day."
    )
    changes: AmendmentChanges


class AmendmentUpdate(NeverNull):
    """Fields of a `pending` amendment to change; `changes` is replaced whole.

    (Not a :class:`Patch`: its ``changes()`` method would shadow the field.)
    """

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"effective_from": "2028-09-04"}]}
    )
    required_fields = _AMENDMENT_NEVER_NULL

    title: Title | None = None  # type: ignore[valid-type]
    kind: AmendmentKind | None = None
    summary: str | None = Field(default=None, max_length=20_000)
    signed_on: dt.date | None = None
    effective_from: dt.date | None = None
    changes: AmendmentChanges | None = None


class AmendmentPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "0192a3b4-0000-7000-8000-00000000d001",
                    "agreement_id": "0192a3b4-0000-7000-8000-00000000b001",
                    **_EXTENSION_EXAMPLE,
                    "status": "applied",
                    "applied_at": "2028-09-03T00:00:05Z",
                    "terms_version": 2,
                    "version": 2,
                    "created_at": "2028-06-01T09:00:00Z",
                    "updated_at": "2028-09-03T00:00:05Z",
                }
            ]
        },
    )

    id: uuid.UUID
    agreement_id: uuid.UUID
    title: str
    kind: AmendmentKind
    summary: str | None
    signed_on: dt.date | None
    effective_from: dt.date
    changes: dict[str, Any] = Field(description="The terms it changes (a partial agreement).")
    status: AmendmentStatus
    applied_at: dt.datetime | None
    terms_version: int | None = Field(description="The terms version it made, once applied.")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class Terms(BaseModel):
    """The terms of an agreement, as one version holds them."""

    title: str
    summary: str | None
    focus_areas: list[str]
    objectives: list[Objective]
    parties: list[Party]
    effective_from: dt.date | None
    expires_on: dt.date | None


class AgreementVersionPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "n": 2,
                    "effective_from": "2028-09-03",
                    "amendment_id": "0192a3b4-0000-7000-8000-00000000d001",
                    "terms": {
                        "title": "Memorandum of Understanding between STZA and GEI",
                        "summary": None,
                        "focus_areas": ["special technology zones"],
                        "objectives": [{"ref": "O1", "text": "Capacity building."}],
                        "parties": [
                            {
                                "organization_id": "0192a3b4-0000-7000-8000-00000000a001",
                                "role": "signatory",
                            }
                        ],
                        "effective_from": "2023-09-04",
                        "expires_on": "2030-09-04",
                    },
                }
            ]
        },
    )

    n: int
    effective_from: dt.date | None = Field(
        description="From when these terms were in force (null: from the start, date unknown)."
    )
    amendment_id: uuid.UUID | None = Field(description="The amendment that made it; null for 1.")
    terms: Terms
