"""Response bodies of the audit log."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEntryPublic(BaseModel):
    """One change: who made it, when, in which request, and the resource before/after."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: dt.datetime
    api_key_id: uuid.UUID | None = Field(
        description="The key that made the change; null for the system."
    )
    request_id: str | None = Field(description="The `X-Request-ID` of the request that made it.")
    action: str = Field(description="What happened, e.g. `created`, `updated`, `status_changed`.")
    entity_type: str
    entity_id: uuid.UUID
    before: dict[str, Any] | None = Field(description="The resource before; null on creation.")
    after: dict[str, Any] | None = Field(description="The resource after; null on deletion.")
