"""Organization use cases. Functions flush; the request boundary commits."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Conflict, NotFound
from shared.events import Actor, Aggregate, record_change
from shared.ids import uuid7
from shared.models import (
    AgreementParty,
    Contact,
    Engagement,
    EngagementParticipant,
    Organization,
    Researcher,
    ResearchParticipant,
)
from shared.organizations.schemas import (
    OrganizationCreate,
    OrganizationPublic,
    OrganizationUpdate,
)
from shared.rows import rows_after, text_in


def as_public(organization: Organization) -> dict:
    return OrganizationPublic.model_validate(organization).model_dump(mode="json")


async def get_organization(session: AsyncSession, organization_id: uuid.UUID) -> Organization:
    organization = await session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(f"Organization {organization_id} does not exist.")
    return organization


async def list_organizations(
    session: AsyncSession,
    *,
    after: uuid.UUID | None,
    limit: int,
    country: str | None = None,
    kind: str | None = None,
    q: str | None = None,
) -> list[Organization]:
    """Up to ``limit + 1`` organizations after ``after``, in creation order."""
    query = select(Organization)
    if country:
        query = query.where(Organization.country == country.upper())
    if kind:
        query = query.where(Organization.kind == kind)
    if q:
        query = query.where(text_in(q, Organization.name, Organization.acronym))
    return await rows_after(session, query, Organization.id, after=after, limit=limit)


async def create_organization(
    session: AsyncSession, *, actor: Actor, payload: OrganizationCreate
) -> Organization:
    values = payload.model_dump()
    if values["website"] is not None:
        values["website"] = str(values["website"])
    organization = Organization(id=uuid7(), **values)
    session.add(organization)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="organization.created",
        aggregate=Aggregate("organization", organization.id),
        entity_id=organization.id,
        before=None,
        after=as_public(organization),
    )
    return organization


async def update_organization(
    session: AsyncSession, *, actor: Actor, organization: Organization, payload: OrganizationUpdate
) -> Organization:
    changes = payload.changes()
    if not changes:
        return organization
    before = as_public(organization)
    if changes.get("website") is not None:
        changes["website"] = str(changes["website"])
    for field, value in changes.items():
        setattr(organization, field, value)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="organization.updated",
        aggregate=Aggregate("organization", organization.id),
        entity_id=organization.id,
        before=before,
        after=as_public(organization),
    )
    return organization


async def delete_organization(
    session: AsyncSession, *, actor: Actor, organization: Organization
) -> None:
    references = await _references_to(session, organization.id)
    if references:
        raise Conflict(
            f"The organization is still referred to as {', '.join(references)}; "
            "remove those references first.",
        )
    before = as_public(organization)
    await session.delete(organization)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="organization.deleted",
        aggregate=Aggregate("organization", organization.id),
        entity_id=organization.id,
        before=before,
        after=None,
    )


async def _references_to(session: AsyncSession, organization_id: uuid.UUID) -> list[str]:
    """What still names the organization, in words, for the 409 detail (one query)."""
    checks = {
        "a party to an agreement": exists().where(
            AgreementParty.organization_id == organization_id
        ),
        "the host of an engagement": exists().where(
            Engagement.host_organization_id == organization_id
        ),
        "a participant in an engagement": exists().where(
            EngagementParticipant.organization_id == organization_id
        ),
        "a participant in a research collaboration": exists().where(
            ResearchParticipant.organization_id == organization_id
        ),
        "a researcher's organization": exists().where(
            Researcher.organization_id == organization_id
        ),
        "the organization of a contact": exists().where(Contact.organization_id == organization_id),
    }
    row = (
        await session.execute(
            select(*(check.label(f"c{i}") for i, check in enumerate(checks.values())))
        )
    ).one()
    return [description for description, present in zip(checks, row, strict=True) if present]
