"""What a document may belong to: a small registry, one entry per owner type.

Each entry says how to find an owner the caller may see (and the event stream
its documents' events join), and how to limit a query on documents to owners
an organization-bound key sees. A domain that gains documents (amendments,
reports) adds its entry to :data:`OWNER_KINDS`; an owner type of the contract
without an entry yet answers 422.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events import Aggregate
from shared.models import (
    Agreement,
    AgreementParty,
    Amendment,
    Document,
    Engagement,
    ResearchCollaboration,
    ResearchParticipant,
)


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


async def _find_agreement(
    session: AsyncSession, owner_id: uuid.UUID, organization_id: uuid.UUID | None
) -> Owner | None:
    query = select(Agreement.id).where(Agreement.id == owner_id)
    if organization_id is not None:
        query = query.where(_party(Agreement.id, organization_id))
    found = await session.scalar(query)
    return None if found is None else Owner("agreement", owner_id, Aggregate("agreement", found))


async def _find_engagement(
    session: AsyncSession, owner_id: uuid.UUID, organization_id: uuid.UUID | None
) -> Owner | None:
    query = select(Engagement.agreement_id).where(Engagement.id == owner_id)
    if organization_id is not None:
        query = query.where(_party(Engagement.agreement_id, organization_id))
    agreement_id = await session.scalar(query)
    if agreement_id is None:
        return None
    return Owner("engagement", owner_id, Aggregate("agreement", agreement_id))


async def _find_amendment(
    session: AsyncSession, owner_id: uuid.UUID, organization_id: uuid.UUID | None
) -> Owner | None:
    query = select(Amendment.agreement_id).where(Amendment.id == owner_id)
    if organization_id is not None:
        query = query.where(_party(Amendment.agreement_id, organization_id))
    agreement_id = await session.scalar(query)
    if agreement_id is None:
        return None
    return Owner("amendment", owner_id, Aggregate("agreement", agreement_id))


def _collaboration_visible(organization_id: uuid.UUID) -> ColumnElement[bool]:
    # As shared.research_collaborations.service.visible_to: through its
    # agreement when it has one, else through its participants.
    return or_(
        and_(
            ResearchCollaboration.agreement_id.is_not(None),
            _party(ResearchCollaboration.agreement_id, organization_id),
        ),
        and_(
            ResearchCollaboration.agreement_id.is_(None),
            exists().where(
                ResearchParticipant.research_collaboration_id == ResearchCollaboration.id,
                ResearchParticipant.organization_id == organization_id,
            ),
        ),
    )


async def _find_collaboration(
    session: AsyncSession, owner_id: uuid.UUID, organization_id: uuid.UUID | None
) -> Owner | None:
    query = select(ResearchCollaboration.id, ResearchCollaboration.agreement_id).where(
        ResearchCollaboration.id == owner_id
    )
    if organization_id is not None:
        query = query.where(_collaboration_visible(organization_id))
    row = (await session.execute(query)).one_or_none()
    if row is None:
        return None
    aggregate = (
        Aggregate("agreement", row.agreement_id)
        if row.agreement_id is not None
        else Aggregate("research_collaboration", owner_id)
    )
    return Owner("research_collaboration", owner_id, aggregate)


OWNER_KINDS: dict[str, OwnerKind] = {
    "agreement": OwnerKind(
        find=_find_agreement,
        visible_to=lambda organization_id: _party(Document.owner_id, organization_id),
    ),
    "amendment": OwnerKind(
        find=_find_amendment,
        visible_to=lambda organization_id: exists().where(
            Amendment.id == Document.owner_id,
            _party(Amendment.agreement_id, organization_id),
        ),
    ),
    "engagement": OwnerKind(
        find=_find_engagement,
        visible_to=lambda organization_id: exists().where(
            Engagement.id == Document.owner_id,
            _party(Engagement.agreement_id, organization_id),
        ),
    ),
    "research_collaboration": OwnerKind(
        find=_find_collaboration,
        visible_to=lambda organization_id: exists().where(
            ResearchCollaboration.id == Document.owner_id,
            _collaboration_visible(organization_id),
        ),
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
