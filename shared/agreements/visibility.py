"""What an organization-bound api key may see: the agreements its organization
is party to, and everything that hangs under them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, exists

from shared.models import Agreement, AgreementParty


def visible_to(organization_id: uuid.UUID | None) -> ColumnElement[bool] | None:
    """The condition limiting agreements to those an organization is party to
    (``None``: no limit, the caller sees every agreement)."""
    if organization_id is None:
        return None
    return exists().where(
        AgreementParty.agreement_id == Agreement.id,
        AgreementParty.organization_id == organization_id,
    )


def under_visible_agreements(
    query: Select[Any], agreement_id: Any, organization_id: uuid.UUID | None
) -> Select[Any]:
    """Limit a query on something under an agreement (its ``agreement_id``
    column) to the agreements an organization-bound caller may see."""
    condition = visible_to(organization_id)
    if condition is None:
        return query
    return query.join(Agreement, Agreement.id == agreement_id).where(condition)
