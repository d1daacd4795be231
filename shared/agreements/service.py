"""Agreement writes: the registry and its parties.

Functions flush; the request boundary commits. Each change records its
outbox event and audit row through :func:`shared.events.record_change`.
The lifecycle is in :mod:`shared.agreements.lifecycle`, the reads in
:mod:`shared.agreements.reads`.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements.reads import as_public
from shared.agreements.schemas import AgreementCreate, AgreementUpdate, Party, validate_dates
from shared.documents.service import delete_documents_of
from shared.errors import Conflict, InvalidReference
from shared.events import Actor, Aggregate, record_change
from shared.ids import uuid7
from shared.initiatives import agreement_rules
from shared.models import Agreement, AgreementParty, Organization
from shared.reports.schedule import check_reporting, check_reporting_change, stored_reporting

# Parties and objectives are the terms of the agreement: fixed once it is signed.
EDITABLE_TERMS_STATUSES = ("draft", "negotiation")
DELETABLE_STATUSES = ("draft", "negotiation", "cancelled")


def aggregate_of(agreement_id: uuid.UUID) -> Aggregate:
    """The event stream of an agreement and of everything under it."""
    return Aggregate("agreement", agreement_id)


async def _check_parties_exist(session: AsyncSession, parties: list[Party]) -> None:
    wanted = {party.organization_id for party in parties}
    found = set(
        (await session.scalars(select(Organization.id).where(Organization.id.in_(wanted)))).all()
    )
    missing = [str(organization_id) for organization_id in wanted - found]
    if missing:
        raise InvalidReference(
            f"No organization with id {', '.join(sorted(missing))}.",
            errors=[
                {
                    "loc": ["body", "parties", index, "organization_id"],
                    "msg": "no such organization",
                }
                for index, party in enumerate(parties)
                if str(party.organization_id) in missing
            ],
        )


async def _check_reference_free(
    session: AsyncSession, reference: str, *, except_id: uuid.UUID | None = None
) -> None:
    query = select(Agreement.id).where(Agreement.reference == reference)
    if except_id is not None:
        query = query.where(Agreement.id != except_id)
    if await session.scalar(query) is not None:
        raise Conflict(f"An agreement with reference '{reference}' already exists.")


def _party_rows(parties: list[Party]) -> list[AgreementParty]:
    return [
        AgreementParty(organization_id=party.organization_id, role=party.role, position=index)
        for index, party in enumerate(parties)
    ]


async def create_agreement(
    session: AsyncSession, *, actor: Actor, payload: AgreementCreate
) -> Agreement:
    await _check_reference_free(session, payload.reference)
    await _check_parties_exist(session, payload.parties)
    check_reporting(payload.reporting, (party.organization_id for party in payload.parties))
    agreement = Agreement(
        id=uuid7(),
        reference=payload.reference,
        title=payload.title,
        instrument_type=payload.instrument_type,
        legal_character=payload.legal_character,
        summary=payload.summary,
        focus_areas=list(payload.focus_areas),
        objectives=[objective.model_dump() for objective in payload.objectives],
        signed_on=payload.signed_on,
        signed_at=payload.signed_at,
        effective_from=payload.effective_from,
        expires_on=payload.expires_on,
        status="draft",
        parties=_party_rows(payload.parties),
        reporting=stored_reporting(payload.reporting),
    )
    session.add(agreement)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="agreement.created",
        aggregate=aggregate_of(agreement.id),
        entity_id=agreement.id,
        before=None,
        after=as_public(agreement),
    )
    return agreement


async def update_agreement(
    session: AsyncSession, *, actor: Actor, agreement: Agreement, payload: AgreementUpdate
) -> Agreement:
    changes = payload.changes()
    if not changes:
        return agreement
    terms_changed = [field for field in ("parties", "objectives") if field in changes]
    if terms_changed and agreement.status not in EDITABLE_TERMS_STATUSES:
        raise Conflict(
            f"{' and '.join(terms_changed)} cannot change once the agreement is "
            f"{agreement.status}; they are fixed from signing on."
        )
    validate_or_422(
        changes.get("effective_from", agreement.effective_from),
        changes.get("expires_on", agreement.expires_on),
    )
    if "reference" in changes:
        await _check_reference_free(session, changes["reference"], except_id=agreement.id)
    if payload.parties is not None:
        await _check_parties_exist(session, payload.parties)
        await agreement_rules.ensure_leads_remain_parties(
            session,
            agreement_id=agreement.id,
            kept_party_ids=[party.organization_id for party in payload.parties],
        )
    if payload.objectives is not None:
        await agreement_rules.ensure_objectives_unused(
            session,
            agreement_id=agreement.id,
            kept_refs=[objective.ref for objective in payload.objectives],
        )
    check_reporting_change(agreement, payload)
    before = as_public(agreement)
    if payload.parties is not None:
        # Delete the old rows before anything else: a re-added organization
        # would otherwise collide on the primary key, and flushing column
        # changes here too would bump the version twice.
        agreement.parties.clear()
        await session.flush()
        agreement.parties.extend(_party_rows(payload.parties))
    for field in ("reference", "title", "instrument_type", "legal_character", "summary"):
        if field in changes:
            setattr(agreement, field, changes[field])
    for field in ("signed_on", "signed_at", "effective_from", "expires_on", "focus_areas"):
        if field in changes:
            setattr(agreement, field, changes[field])
    if payload.objectives is not None:
        agreement.objectives = [objective.model_dump() for objective in payload.objectives]
    if "reporting" in changes:
        agreement.reporting = stored_reporting(payload.reporting)
    agreement.updated_at = dt.datetime.now(dt.UTC)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="agreement.updated",
        aggregate=aggregate_of(agreement.id),
        entity_id=agreement.id,
        before=before,
        after=as_public(agreement),
    )
    return agreement


def validate_or_422(effective_from: dt.date | None, expires_on: dt.date | None) -> None:
    try:
        validate_dates(effective_from, expires_on)
    except ValueError as exc:
        raise InvalidReference(
            str(exc), errors=[{"loc": ["body", "expires_on"], "msg": str(exc)}]
        ) from exc


async def delete_agreement(session: AsyncSession, *, actor: Actor, agreement: Agreement) -> None:
    if agreement.status not in DELETABLE_STATUSES:
        raise Conflict(
            f"A {agreement.status} agreement is a record and cannot be deleted; "
            "move it to completed, terminated or expired instead.",
        )
    await agreement_rules.ensure_nothing_recorded_under(session, agreement_id=agreement.id)
    await delete_documents_of(session, actor=actor, owner_type="agreement", owner_id=agreement.id)
    before = as_public(agreement)
    await session.delete(agreement)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="agreement.deleted",
        aggregate=aggregate_of(agreement.id),
        entity_id=agreement.id,
        before=before,
        after=None,
    )
