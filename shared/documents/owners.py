"""What a document may belong to: a small registry, one entry per owner type.

Each entry says how to find an owner the caller may see (and the event stream
its documents' events join), and how to limit a query on documents to owners
an organization-bound key sees. A domain that gains documents (amendments)
adds its entry to :data:`OWNER_KINDS`; an owner type of the contract
without an entry yet answers 422.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events import Aggregate
from shared.models import (
    Agreement,
    AgreementParty,
    Amendment,
    Document,
    Engagement,
    Report,
    ResearchCollaboration,
)
from shared.research_collaborations.visibility import aggregate_for
from shared.research_collaborations.visibility import visible_to as collaborations_visible_to


@dataclass(frozen=True)
class Owner:
    type: str
    id: uuid.UUID
    # The stream the owner's events join: its agreement's, when it hangs under one.
    aggregate: Aggregate


# Finds the owner, or None when it does not exist or the organization may not see it.
OwnerFinder = Callable[[AsyncSession, uuid.UUID, uuid.UUID | None], Awaitable[Owner | None]]
# The condition, on Document, that its owner is visible to the organization.
OwnerVisibility = Callable[[uuid.UUID], ColumnElement[bool]]


@dataclass(frozen=True)
class OwnerKind:
    find: OwnerFinder
    visible_to: OwnerVisibility


def _party(agreement_id: object, organization_id: uuid.UUID) -> ColumnElement[bool]:
    return exists().where(
        AgreementParty.agreement_id == agreement_id,
        AgreementParty.organization_id == organization_id,
    )


def _under_agreement(owner_type: str, model: Any) -> OwnerKind:
    """The entry of an owner that hangs under an agreement (its ``agreement_id``;
    an agreement is its own): seen by the agreement's parties, on its stream."""
    agreement_id = Agreement.id if model is Agreement else model.agreement_id

    async def find(
        session: AsyncSession, owner_id: uuid.UUID, organization_id: uuid.UUID | None
    ) -> Owner | None:
        query = select(agreement_id).where(model.id == owner_id)
        if organization_id is not None:
            query = query.where(_party(agreement_id, organization_id))
        found = await session.scalar(query)
        return None if found is None else Owner(owner_type, owner_id, Aggregate("agreement", found))

    def visible_to(organization_id: uuid.UUID) -> ColumnElement[bool]:
        if model is Agreement:
            return _party(Document.owner_id, organization_id)
        return exists().where(model.id == Document.owner_id, _party(agreement_id, organization_id))

    return OwnerKind(find=find, visible_to=visible_to)


async def _find_collaboration(
    session: AsyncSession, owner_id: uuid.UUID, organization_id: uuid.UUID | None
) -> Owner | None:
    query = select(ResearchCollaboration.agreement_id).where(ResearchCollaboration.id == owner_id)
    condition = collaborations_visible_to(organization_id)
    if condition is not None:
        query = query.where(condition)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        return None
    return Owner("research_collaboration", owner_id, aggregate_for(owner_id, row.agreement_id))


def _collaboration_visible(organization_id: uuid.UUID) -> ColumnElement[bool]:
    condition = collaborations_visible_to(organization_id)
    assert condition is not None  # an organization is given
    return exists().where(ResearchCollaboration.id == Document.owner_id, condition)


OWNER_KINDS: dict[str, OwnerKind] = {
    "agreement": _under_agreement("agreement", Agreement),
    "amendment": _under_agreement("amendment", Amendment),
    "engagement": _under_agreement("engagement", Engagement),
    # Reports are a record: never deleted, so their documents stay with them.
    "report": _under_agreement("report", Report),
    "research_collaboration": OwnerKind(
        find=_find_collaboration, visible_to=_collaboration_visible
    ),
}


def documents_visible_to(organization_id: uuid.UUID | None) -> ColumnElement[bool] | None:
    """The condition limiting documents to those whose owner the organization sees."""
    if organization_id is None:
        return None
    conditions = [
        and_(Document.owner_type == owner_type, kind.visible_to(organization_id))
        for owner_type, kind in OWNER_KINDS.items()
    ]
    return or_(*conditions) if conditions else false()
