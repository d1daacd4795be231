"""Request and response bodies of organizations."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict

from shared.validation import CountryCode, IatiOrgRef, Patch, RequestBody, RorId, bounded_text

OrganizationKind = Literal[
    "government_agency",
    "research_institute",
    "university",
    "company",
    "ngo",
    "intergovernmental",
    "other",
]
OrganizationName = bounded_text(300)
Acronym = bounded_text(50)


class OrganizationCreate(RequestBody):
    name: OrganizationName  # type: ignore[valid-type]
    acronym: Acronym | None = None  # type: ignore[valid-type]
    kind: OrganizationKind
    country: CountryCode
    ror_id: RorId | None = None
    website: AnyHttpUrl | None = None
    iati_ref: IatiOrgRef | None = None


class OrganizationUpdate(Patch):
    """Fields to change; absent fields stay as they are, optional ones may be null."""

    required_fields = ("name", "kind", "country")

    name: OrganizationName | None = None  # type: ignore[valid-type]
    acronym: Acronym | None = None  # type: ignore[valid-type]
    kind: OrganizationKind | None = None
    country: CountryCode | None = None
    ror_id: RorId | None = None
    website: AnyHttpUrl | None = None
    iati_ref: IatiOrgRef | None = None


class OrganizationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    acronym: str | None
    kind: OrganizationKind
    country: str
    ror_id: str | None
    website: str | None
    iati_ref: str | None = None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
