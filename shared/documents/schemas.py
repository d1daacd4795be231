"""Metadata bodies of documents (the bytes travel as multipart, see the router)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, StrictBool, computed_field

from shared.validation import LanguageTag, Patch, RequestBody, bounded_text

OwnerType = Literal["agreement", "amendment", "engagement", "report", "research_collaboration"]
DocumentKind = Literal["signed_copy", "draft", "annex", "minutes", "report", "other"]
DocumentTitle = bounded_text(500)
# No path separators, quotes or control characters, and not blank (whitespace
# around it is stripped first).
_PLAIN = r'[^/\\"\x00-\x1f\x7f]'
_SOLID = r'[^\s\x85/\\"\x00-\x1f\x7f]'
Filename = bounded_text(255, pattern=rf"^[\s\x85]*{_PLAIN}*{_SOLID}{_PLAIN}*[\s\x85]*$")


class DocumentCreate(RequestBody):
    """The form fields of an upload, next to the `file` part."""

    owner_type: OwnerType
    owner_id: uuid.UUID
    kind: DocumentKind
    title: DocumentTitle | None = None  # type: ignore[valid-type]
    language: LanguageTag | None = None  # type: ignore[valid-type]
    authentic: bool = False


class DocumentUpdate(Patch):
    """Metadata to change; the owner and the bytes are fixed (upload a new document)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"title": "MoU STZA-GEI, signed (Chinese)", "language": "zh-Hans"}]
        }
    )
    required_fields = ("kind", "authentic", "filename")

    kind: DocumentKind | None = None
    title: DocumentTitle | None = None  # type: ignore[valid-type]
    language: LanguageTag | None = None  # type: ignore[valid-type]
    # JSON, not a form: `0` or `"true"` is not a boolean.
    authentic: StrictBool | None = None
    filename: Filename | None = None  # type: ignore[valid-type]


class DocumentPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b",
                    "owner_type": "agreement",
                    "owner_id": "0193a3c4-0000-7000-8000-0000000000a1",
                    "kind": "signed_copy",
                    "title": "MoU between STZA and GEI, signed copy",
                    "language": "en",
                    "authentic": True,
                    "filename": "stza-gei-mou-signed.pdf",
                    "media_type": "application/pdf",
                    "size": 1187,
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "content_url": "/v1/documents/0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b/content",
                    "version": 1,
                    "created_at": "2024-09-04T08:00:00Z",
                    "updated_at": "2024-09-04T08:00:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    owner_type: OwnerType
    owner_id: uuid.UUID
    kind: DocumentKind
    title: str | None
    language: str | None
    authentic: bool
    filename: str
    media_type: str
    size: int
    sha256: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def content_url(self) -> str:
        return f"/v1/documents/{self.id}/content"


def document_as_public(document: object) -> dict[str, object]:
    return DocumentPublic.model_validate(document).model_dump(mode="json")
