"""Request and response bodies of contacts and focal points."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator

from shared.validation import LanguageTag, Patch, RequestBody, bounded_text

ContactName = bounded_text(300)
ContactTitle = bounded_text(300)
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ().\-/]{2,48}$"),
    Field(description="A telephone number, international form preferred (`+92 51 9201234`)."),
]
Email = Annotated[EmailStr, Field(max_length=320)]
Languages = Annotated[
    list[LanguageTag],  # type: ignore[valid-type]
    Field(max_length=20, description="Languages the person works in (BCP 47 tags)."),
]
FocalPointRole = Literal["focal_point", "legal", "finance", "technical", "signatory"]

_CONTACT_EXAMPLE = {
    "name": "Ayesha Khan",
    "email": "ayesha.khan@stza.gov.pk",
    "title": "Director, International Cooperation",
    "phone": "+92 51 9201234",
    "languages": ["en", "ur"],
}


def _unique_languages(languages: list[str] | None) -> list[str] | None:
    if languages is not None and len({tag.lower() for tag in languages}) != len(languages):
        raise ValueError("a language is listed twice")
    return languages


class ContactCreate(RequestBody):
    model_config = ConfigDict(json_schema_extra={"examples": [_CONTACT_EXAMPLE]})

    name: ContactName  # type: ignore[valid-type]
    email: Email
    title: ContactTitle | None = None  # type: ignore[valid-type]
    phone: Phone | None = None
    languages: Languages = Field(default_factory=list)

    _languages_unique = field_validator("languages")(_unique_languages)


class ContactUpdate(Patch):
    """Fields to change; the organization is fixed at creation."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"title": "Deputy Director"}]})
    required_fields = ("name", "email", "languages")

    name: ContactName | None = None  # type: ignore[valid-type]
    email: Email | None = None
    title: ContactTitle | None = None  # type: ignore[valid-type]
    phone: Phone | None = None
    languages: Languages | None = None

    _languages_unique = field_validator("languages")(_unique_languages)


class ContactPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b",
                    "organization_id": "0193a3c4-0000-7000-8000-000000000001",
                    **_CONTACT_EXAMPLE,
                    "version": 1,
                    "created_at": "2024-09-04T08:00:00Z",
                    "updated_at": "2024-09-04T08:00:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    email: str
    title: str | None
    phone: str | None
    languages: list[str]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def contact_as_public(contact: object) -> dict[str, object]:
    return ContactPublic.model_validate(contact).model_dump(mode="json")


class FocalPointIn(RequestBody):
    contact_id: uuid.UUID
    role: FocalPointRole


class FocalPointsPut(RequestBody):
    """The whole set of an agreement's focal points; it replaces the previous set."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "focal_points": [
                        {
                            "contact_id": "0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b",
                            "role": "focal_point",
                        },
                        {"contact_id": "0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6c", "role": "technical"},
                    ]
                }
            ]
        }
    )

    focal_points: list[FocalPointIn] = Field(max_length=100)

    @field_validator("focal_points")
    @classmethod
    def _no_repeats(cls, focal_points: list[FocalPointIn]) -> list[FocalPointIn]:
        pairs = [(point.contact_id, point.role) for point in focal_points]
        if len(set(pairs)) != len(pairs):
            raise ValueError("the same contact is named twice in the same role")
        return focal_points


class FocalPointPublic(BaseModel):
    contact_id: uuid.UUID
    role: FocalPointRole
    organization_id: uuid.UUID
    name: str
    email: str


class FocalPointsPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agreement_id": "0193a3c4-0000-7000-8000-0000000000a1",
                    "focal_points": [
                        {
                            "contact_id": "0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b",
                            "role": "focal_point",
                            "organization_id": "0193a3c4-0000-7000-8000-000000000001",
                            "name": "Ayesha Khan",
                            "email": "ayesha.khan@stza.gov.pk",
                        }
                    ],
                }
            ]
        }
    )

    agreement_id: uuid.UUID
    focal_points: list[FocalPointPublic]
