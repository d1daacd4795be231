"""What an organization-bound api key may do beyond reading its agreements.

Agreements and everything under them are filtered through
``shared.agreements.visibility.visible_to``: outside its organization's
agreements a bound key meets 404, exactly as for a missing resource. The
rules here cover the rest:

- Organizations are a directory: a bound key reads them all, may change only
  its own organization, and neither registers nor deletes organizations (403).
- A bound key creates or re-writes agreements only with its organization among
  the parties (422 otherwise): it cannot make what it could not then see.
- Api keys and the audit log are admin-only, and an admin key is never bound
  (refused at creation): admin means everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from shared.errors import Forbidden, InvalidReference


class _HasOrganization(Protocol):
    organization_id: uuid.UUID


def ensure_may_register_organizations(organization_scope: uuid.UUID | None) -> None:
    if organization_scope is not None:
        raise Forbidden(
            "An organization-bound key cannot register or delete organizations; "
            "ask an administrator."
        )


def ensure_may_change_organization(
    organization_scope: uuid.UUID | None, organization_id: uuid.UUID
) -> None:
    if organization_scope is not None and organization_scope != organization_id:
        raise Forbidden("An organization-bound key may change only its own organization.")


def ensure_party(
    organization_scope: uuid.UUID | None, parties: Sequence[_HasOrganization] | None
) -> None:
    """A bound key's organization must stay among the agreement's parties."""
    if organization_scope is None or parties is None:
        return
    if organization_scope not in {party.organization_id for party in parties}:
        raise InvalidReference(
            "With an organization-bound key, the key's organization must be one of the parties.",
            errors=[{"loc": ["body", "parties"], "msg": "your organization is missing"}],
        )
