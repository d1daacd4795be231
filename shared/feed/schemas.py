"""Bodies of the event feed."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventPublic(BaseModel):
    """One event, exactly as webhooks deliver it (`id` is the `webhook-id`)."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    id: uuid.UUID
    type: str = Field(description="e.g. `milestone.completed`; see the event catalogue.")
    timestamp: dt.datetime = Field(validation_alias="occurred_at")
    sequence: int = Field(
        description="Increases by one per aggregate (agreement, organization, ...): spot gaps."
    )
    data: dict[str, Any] = Field(
        description="The resource as the API returns it, plus `previous_status` on status changes."
    )
