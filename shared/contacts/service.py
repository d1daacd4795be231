"""Contact and focal-point use cases. Functions flush; the request boundary commits.

Contacts are personal data: nothing here logs, and callers must not log
names, emails or phones either. The audit log keeps them (it is the record).

Visibility for an organization-bound key: its own organization's contacts,
and those of every organization that is a party to an agreement it sees.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shared.contacts.schemas import (
    ContactCreate,
    ContactUpdate,
    FocalPointPublic,
    FocalPointsPublic,
    FocalPointsPut,
    contact_as_public,
)
from shared.errors import Conflict, Forbidden, InvalidReference, NotFound
from shared.events import Actor, Aggregate, record_change
from shared.ids import uuid7
from shared.models import Agreement, AgreementParty, Contact, FocalPoint, Organization
from shared.rows import one_or_404, rows_after, text_in


def _aggregate(contact: Contact) -> Aggregate:
    return Aggregate("organization", contact.organization_id)


def visible_contacts(organization_scope: uuid.UUID | None) -> ColumnElement[bool] | None:
    """The condition limiting contacts to those an organization-bound key may see."""
    if organization_scope is None:
        return None
    theirs = aliased(AgreementParty)
    ours = aliased(AgreementParty)
    shares_an_agreement = exists().where(
        theirs.organization_id == Contact.organization_id,
        ours.agreement_id == theirs.agreement_id,
        ours.organization_id == organization_scope,
    )
    return or_(Contact.organization_id == organization_scope, shares_an_agreement)


def ensure_may_change_contacts_of(
    organization_scope: uuid.UUID | None, organization_id: uuid.UUID
) -> None:
    """An organization-bound key keeps its own organization's contacts, no one else's."""
    if organization_scope is not None and organization_scope != organization_id:
        raise Forbidden(
            "An organization-bound key may change only its own organization's contacts."
        )


async def get_contact(
    session: AsyncSession,
    contact_id: uuid.UUID,
    *,
    organization_scope: uuid.UUID | None = None,
    for_update: bool = False,
) -> Contact:
    """The contact; 404 also when the caller may not see it."""
    query = select(Contact).where(Contact.id == contact_id)
    condition = visible_contacts(organization_scope)
    if condition is not None:
        query = query.where(condition)
    missing = f"Contact {contact_id} does not exist."
    return await one_or_404(session, query, missing=missing, lock=Contact if for_update else None)


async def list_contacts(
    session: AsyncSession,
    *,
    after: uuid.UUID | None,
    limit: int,
    organization_scope: uuid.UUID | None,
    organization_id: uuid.UUID | None = None,
    q: str | None = None,
) -> list[Contact]:
    """Up to ``limit + 1`` contacts after ``after``, in creation order."""
    query = select(Contact)
    condition = visible_contacts(organization_scope)
    if condition is not None:
        query = query.where(condition)
    if organization_id is not None:
        query = query.where(Contact.organization_id == organization_id)
    if q:
        query = query.where(text_in(q, Contact.name, Contact.email, Contact.title))
    return await rows_after(session, query, Contact.id, after=after, limit=limit)


async def create_contact(
    session: AsyncSession,
    *,
    actor: Actor,
    organization_id: uuid.UUID,
    payload: ContactCreate,
) -> Contact:
    if await session.get(Organization, organization_id) is None:
        raise NotFound(f"Organization {organization_id} does not exist.")
    contact = Contact(id=uuid7(), organization_id=organization_id, **payload.model_dump())
    session.add(contact)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="contact.created",
        aggregate=_aggregate(contact),
        entity_id=contact.id,
        before=None,
        after=contact_as_public(contact),
    )
    return contact


async def update_contact(
    session: AsyncSession, *, actor: Actor, contact: Contact, payload: ContactUpdate
) -> Contact:
    changes = payload.changes()
    if not changes:
        return contact
    before = contact_as_public(contact)
    for field, value in changes.items():
        setattr(contact, field, value)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="contact.updated",
        aggregate=_aggregate(contact),
        entity_id=contact.id,
        before=before,
        after=contact_as_public(contact),
    )
    return contact


async def delete_contact(session: AsyncSession, *, actor: Actor, contact: Contact) -> None:
    """Delete a contact no agreement names as a focal point (409 naming them otherwise)."""
    references = (
        await session.scalars(
            select(Agreement.reference)
            .where(
                exists().where(
                    FocalPoint.agreement_id == Agreement.id, FocalPoint.contact_id == contact.id
                )
            )
            .order_by(Agreement.reference)
        )
    ).all()
    if references:
        raise Conflict(
            f"The contact is a focal point of {', '.join(references)}; "
            "take them off those agreements' focal points first.",
            agreements=list(references),
        )
    before = contact_as_public(contact)
    await session.delete(contact)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="contact.deleted",
        aggregate=_aggregate(contact),
        entity_id=contact.id,
        before=before,
        after=None,
    )


async def organization_has_contacts(session: AsyncSession, organization_id: uuid.UUID) -> bool:
    """For the organization's delete: its contacts must go first."""
    return bool(
        await session.scalar(select(exists().where(Contact.organization_id == organization_id)))
    )


# Focal points ------------------------------------------------------------------


async def read_focal_points(session: AsyncSession, agreement_id: uuid.UUID) -> FocalPointsPublic:
    """The agreement's focal points in the order they were given (the agreement is
    already known to be visible to the caller)."""
    rows = (
        await session.execute(
            select(
                FocalPoint.contact_id,
                FocalPoint.role,
                Contact.organization_id,
                Contact.name,
                Contact.email,
            )
            .join(Contact, Contact.id == FocalPoint.contact_id)
            .where(FocalPoint.agreement_id == agreement_id)
            .order_by(FocalPoint.position)
        )
    ).all()
    return FocalPointsPublic(
        agreement_id=agreement_id,
        focal_points=[FocalPointPublic.model_validate(row, from_attributes=True) for row in rows],
    )


async def _check_contacts_of_parties(
    session: AsyncSession, agreement_id: uuid.UUID, payload: FocalPointsPut
) -> None:
    wanted = {point.contact_id for point in payload.focal_points}
    if not wanted:
        return
    rows = (
        await session.execute(
            select(Contact.id, AgreementParty.organization_id)
            .outerjoin(
                AgreementParty,
                (AgreementParty.organization_id == Contact.organization_id)
                & (AgreementParty.agreement_id == agreement_id),
            )
            .where(Contact.id.in_(wanted))
        )
    ).all()
    of_a_party = {contact_id: party is not None for contact_id, party in rows}
    errors: list[dict[str, Any]] = []
    for index, point in enumerate(payload.focal_points):
        if point.contact_id not in of_a_party:
            message = "no such contact"
        elif not of_a_party[point.contact_id]:
            message = "the contact's organization is not a party to the agreement"
        else:
            continue
        errors.append({"loc": ["body", "focal_points", index, "contact_id"], "msg": message})
    if errors:
        raise InvalidReference(
            "Every focal point must be an existing contact at a party to the agreement.",
            errors=errors,
        )


async def replace_focal_points(
    session: AsyncSession, *, actor: Actor, agreement_id: uuid.UUID, payload: FocalPointsPut
) -> FocalPointsPublic:
    """Replace the agreement's focal points; an event only when the set changes.

    The caller holds the agreement row locked (``for_update``), so concurrent
    replacements of the same agreement's set run one after the other.
    """
    await _check_contacts_of_parties(session, agreement_id, payload)
    before = await read_focal_points(session, agreement_id)
    wanted = [(point.contact_id, point.role) for point in payload.focal_points]
    if [(point.contact_id, point.role) for point in before.focal_points] == wanted:
        return before
    await session.execute(delete(FocalPoint).where(FocalPoint.agreement_id == agreement_id))
    session.add_all(
        FocalPoint(agreement_id=agreement_id, contact_id=contact_id, role=role, position=index)
        for index, (contact_id, role) in enumerate(wanted)
    )
    await session.flush()
    after = await read_focal_points(session, agreement_id)
    await record_change(
        session,
        actor=actor,
        event_type="agreement.focal_points_changed",
        aggregate=Aggregate("agreement", agreement_id),
        entity_id=agreement_id,
        before=before.model_dump(mode="json"),
        after=after.model_dump(mode="json"),
    )
    return after


async def ensure_focal_points_remain_parties(
    session: AsyncSession, *, agreement_id: uuid.UUID, kept_party_ids: list[uuid.UUID]
) -> None:
    """409 when new parties would drop the organization of a focal point
    (the agreement's parties change: its focal points must still fit them)."""
    dropped = sorted(
        {
            str(organization_id)
            for organization_id in (
                await session.scalars(
                    select(Contact.organization_id)
                    .join(FocalPoint, FocalPoint.contact_id == Contact.id)
                    .where(FocalPoint.agreement_id == agreement_id)
                )
            ).all()
            if organization_id not in set(kept_party_ids)
        }
    )
    if dropped:
        raise Conflict(
            f"Contacts of organization {', '.join(dropped)} are focal points of this agreement; "
            "replace its focal points before removing that organization from the parties."
        )
