"""Request and response bodies of api keys."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.validation import RequestBody, bounded_text

Scope = Literal["read", "write", "webhooks", "admin"]
KeyName = bounded_text(200)


class ApiKeyCreate(RequestBody):
    name: KeyName  # type: ignore[valid-type]
    scopes: list[Scope] = Field(min_length=1, max_length=4)
    organization_id: uuid.UUID | None = Field(
        default=None,
        description="Bind the key to an organization: it then sees only that "
        "organization's agreements and what hangs under them.",
    )


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    key_prefix: str = Field(description="The first characters of the key, to tell keys apart.")
    scopes: list[Scope]
    organization_id: uuid.UUID | None
    created_at: dt.datetime


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The api key itself. Shown only in this response; store it now.")
