"""Agreement writes: the registry and its parties.

Functions flush; the request boundary commits. Each change records its
outbox event and audit row through :func:`shared.events.record_change`.
The lifecycle is in :mod:`shared.agreements.lifecycle`, the reads in
:mod:`shared.agreements.reads`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock, rendered
from shared.agreements import versions
from shared.agreements.reads import as_public
from shared.agreements.schemas import (
    AgreementCreate,
    AgreementPublic,
    AgreementUpdate,
    Objective,
    Party,
    validate_dates,
)
from shared.contacts.service import ensure_focal_points_remain_parties
from shared.db import write_on_its_own
from shared.documents.service import delete_documents_of
from shared.errors import Conflict, InvalidReference
from shared.events import Actor, Aggregate, record_change
from shared.ids import uuid7
from shared.initiatives import agreement_rules
from shared.lifecycle import AgreementFacts, missing_conditions
from shared.models import (
    Agreement,
    AgreementParty,
    AgreementVersion,
    Amendment,
    Organization,
    PartyAct,
)
from shared.reports.schedule import check_reporting, check_reporting_change, stored_reporting
from shared.statements import run_statement

# Parties and objectives are the terms of the agreement: fixed once it is signed.
EDITABLE_TERMS_STATUSES = ("draft", "negotiation")
DELETABLE_STATUSES = ("draft", "negotiation", "cancelled")
SCALAR_FIELDS = (
    "reference",
    "title",
    "instrument_type",
    "legal_character",
    "summary",
    "signed_on",
    "signed_at",
    "effective_from",
    "expires_on",
    "focus_areas",
)


def aggregate_of(agreement_id: uuid.UUID) -> Aggregate:
    """The event stream of an agreement and of everything under it."""
    return Aggregate("agreement", agreement_id)


Location = tuple[str | int, ...]


async def _check_parties_exist(
    session: AsyncSession, parties: list[Party], *, at: Location = ("body",)
) -> None:
    wanted = {party.organization_id for party in parties}
    found = set(
        (await session.scalars(select(Organization.id).where(Organization.id.in_(wanted)))).all()
    )
    _refuse_missing_parties(parties, found, at=at)


def _refuse_missing_parties(
    parties: list[Party], found: set[uuid.UUID], *, at: Location = ("body",)
) -> None:
    missing = {party.organization_id for party in parties} - found
    if missing:
        raise InvalidReference(
            f"No organization with id {', '.join(sorted(map(str, missing)))}.",
            errors=[
                {"loc": [*at, "parties", index, "organization_id"], "msg": "no such organization"}
                for index, party in enumerate(parties)
                if party.organization_id in missing
            ],
        )


# Agreements holding ``reference`` and which of ``organizations`` exist: built once.
_NEW_AGREEMENT_CHECK = union_all(
    select(literal("reference"), Agreement.id).where(Agreement.reference == bindparam("reference")),
    select(literal("organization"), Organization.id).where(
        Organization.id.in_(bindparam("organizations", expanding=True))
    ),
)


async def _check_new_agreement(session: AsyncSession, payload: AgreementCreate) -> None:
    """A new agreement's reference is free and its parties exist: one round trip."""
    wanted = list({party.organization_id for party in payload.parties})
    found = await run_statement(
        session, _NEW_AGREEMENT_CHECK, {"reference": payload.reference, "organizations": wanted}
    )
    if any(kind == "reference" for kind, _ in found):
        raise Conflict(f"An agreement with reference '{payload.reference}' already exists.")
    _refuse_missing_parties(payload.parties, {found_id for kind, found_id in found})


async def _check_acting_parties_kept(
    session: AsyncSession, *, agreement_id: uuid.UUID, kept_party_ids: list[uuid.UUID]
) -> None:
    """A party with acts on record stays a party (it withdraws by an act instead)."""
    acting = set(
        (
            await session.scalars(
                select(PartyAct.organization_id).where(PartyAct.agreement_id == agreement_id)
            )
        ).all()
    )
    dropped = sorted(str(organization_id) for organization_id in acting - set(kept_party_ids))
    if dropped:
        raise Conflict(
            f"Organization {', '.join(dropped)} has acts on record for this agreement and "
            "stays a party; record its withdrawal instead, or delete its acts first."
        )


async def _check_reference_free(
    session: AsyncSession, reference: str, *, except_id: uuid.UUID | None = None
) -> None:
    query = select(Agreement.id).where(Agreement.reference == reference)
    if except_id is not None:
        query = query.where(Agreement.id != except_id)
    if await session.scalar(query) is not None:
        raise Conflict(f"An agreement with reference '{reference}' already exists.")


def _party_values(
    parties: list[Party], previous: list[AgreementParty] | None = None
) -> list[dict[str, Any]]:
    """The columns of each party's row, in order (its ``agreement_id`` apart)."""
    # A party kept through a change keeps the dates its acts gave it.
    dates = {party.organization_id: party for party in previous or []}
    values = []
    for index, party in enumerate(parties):
        kept = dates.get(party.organization_id)
        values.append(
            {
                "organization_id": party.organization_id,
                "role": party.role,
                "position": index,
                "signed_on": kept.signed_on if kept else None,
                "consented_on": kept.consented_on if kept else None,
                "withdrawn_on": kept.withdrawn_on if kept else None,
            }
        )
    return values


def _party_rows(
    parties: list[Party], previous: list[AgreementParty] | None = None
) -> list[AgreementParty]:
    return [AgreementParty(**values) for values in _party_values(parties, previous)]


@dataclass(frozen=True)
class NewAgreement:
    """A created agreement as the API shows it, and that JSON as stored and answered."""

    public: AgreementPublic
    body: str


_AGREEMENTS = Agreement.__table__
_PARTIES = AgreementParty.__table__
_VERSIONS = AgreementVersion.__table__


async def create_agreement(
    session: AsyncSession, *, actor: Actor, payload: AgreementCreate
) -> NewAgreement:
    """Register the agreement in ``draft``: its row (with its rendered JSON), its
    parties, its first terms version, its event and its audit row, written as
    rows in one statement (no ORM object: a create is the busiest write),
    which commits on its own unless the session has a transaction open."""
    async with write_on_its_own(session):
        return await _create_agreement(session, actor=actor, payload=payload)


async def _create_agreement(
    session: AsyncSession, *, actor: Actor, payload: AgreementCreate
) -> NewAgreement:
    await _check_new_agreement(session, payload)
    check_reporting(payload.reporting, (party.organization_id for party in payload.parties))
    agreement_id = uuid7()
    now = clock.utcnow()
    parties = [
        {"agreement_id": agreement_id, **values} for values in _party_values(payload.parties)
    ]
    row: dict[str, Any] = {
        "id": agreement_id,
        "reference": payload.reference,
        "title": payload.title,
        "instrument_type": payload.instrument_type,
        "legal_character": payload.legal_character,
        "summary": payload.summary,
        "focus_areas": list(payload.focus_areas),
        "objectives": [objective.model_dump() for objective in payload.objectives],
        "signed_on": payload.signed_on,
        "signed_at": payload.signed_at,
        "effective_from": payload.effective_from,
        "expires_on": payload.expires_on,
        "status": "draft",
        "terms_version": 1,
        "reporting": stored_reporting(payload.reporting),
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    public = AgreementPublic.model_validate({**row, "parties": parties})
    body = rendered.dump(public)
    first_version = versions.version_row(
        agreement=public, effective_from=payload.effective_from, amendment_id=None
    )
    await record_change(
        session,
        actor=actor,
        event_type="agreement.created",
        aggregate=aggregate_of(agreement_id),
        entity_id=agreement_id,
        before=None,
        after=public.model_dump(mode="json", by_alias=True),
        rows=[
            (_AGREEMENTS, [{**row, "rendered": body}]),
            (_PARTIES, parties),
            (_VERSIONS, [first_version]),
        ],
        new_aggregate=True,
    )
    return NewAgreement(public, body)


async def check_terms_change(
    session: AsyncSession,
    *,
    agreement: Agreement,
    changes: dict[str, Any],
    parties: list[Party] | None,
    objectives: list[Objective] | None,
    at: Location = ("body",),
) -> None:
    """The agreement's own rules for a change of its fields: a PATCH's, and an
    amendment's ``changes`` (at its creation and again when it applies).

    Dates stay in order against the stored values; parties exist, initiative
    leads and parties with acts stay parties, and once signed there are still
    two signatories; objectives used by initiatives stay.
    """
    validate_or_422(
        changes.get("effective_from", agreement.effective_from),
        changes.get("expires_on", agreement.expires_on),
        at=at,
    )
    if "reference" in changes:
        await _check_reference_free(session, changes["reference"], except_id=agreement.id)
    if parties is not None:
        await _check_parties_exist(session, parties, at=at)
        kept = [party.organization_id for party in parties]
        await agreement_rules.ensure_leads_remain_parties(
            session, agreement_id=agreement.id, kept_party_ids=kept
        )
        await _check_acting_parties_kept(session, agreement_id=agreement.id, kept_party_ids=kept)
        await ensure_focal_points_remain_parties(
            session, agreement_id=agreement.id, kept_party_ids=kept
        )
        if agreement.status not in (*EDITABLE_TERMS_STATUSES, "cancelled"):
            missing = missing_conditions(
                "signed",
                AgreementFacts(party_roles=tuple(party.role for party in parties), signed_on=None),
                reason=None,
                on=agreement.signed_on or dt.date.min,
            )
            if missing:
                raise Conflict(
                    f"A {agreement.status} agreement keeps {'; and '.join(missing)}.",
                    missing=missing,
                )
    if objectives is not None:
        await agreement_rules.ensure_objectives_unused(
            session,
            agreement_id=agreement.id,
            kept_refs=[objective.ref for objective in objectives],
        )


async def apply_terms(
    session: AsyncSession,
    *,
    agreement: Agreement,
    changes: dict[str, Any],
    parties: list[Party] | None,
    objectives: list[Objective] | None,
) -> None:
    """Set already-checked changes on the agreement (not yet flushed as a version bump)."""
    if parties is not None:
        # Delete the old rows before anything else: a re-added organization
        # would otherwise collide on the primary key, and flushing column
        # changes here too would bump the version twice.
        previous = list(agreement.parties)
        agreement.parties.clear()
        await session.flush()
        agreement.parties.extend(_party_rows(parties, previous))
    for field in SCALAR_FIELDS:
        if field in changes:
            setattr(agreement, field, changes[field])
    if objectives is not None:
        agreement.objectives = [objective.model_dump() for objective in objectives]
    agreement.updated_at = clock.utcnow()


async def update_agreement(
    session: AsyncSession, *, actor: Actor, agreement: Agreement, payload: AgreementUpdate
) -> Agreement:
    """A PATCH: a correction of the record (amendments change the terms in force)."""
    changes = payload.changes()
    if not changes:
        return agreement
    terms_changed = [field for field in ("parties", "objectives") if field in changes]
    if terms_changed and agreement.status not in EDITABLE_TERMS_STATUSES:
        raise Conflict(
            f"{' and '.join(terms_changed)} cannot change once the agreement is "
            f"{agreement.status}; they are fixed from signing on (amend them instead)."
        )
    await check_terms_change(
        session,
        agreement=agreement,
        changes=changes,
        parties=payload.parties,
        objectives=payload.objectives,
    )
    check_reporting_change(agreement, payload)
    before = as_public(agreement)
    await apply_terms(
        session,
        agreement=agreement,
        changes=changes,
        parties=payload.parties,
        objectives=payload.objectives,
    )
    if any(field in changes for field in versions.TERMS_FIELDS):
        await versions.correct_current_version(session, agreement=agreement)
    if "reporting" in changes:
        agreement.reporting = stored_reporting(payload.reporting)
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


def validate_or_422(
    effective_from: dt.date | None, expires_on: dt.date | None, *, at: Location = ("body",)
) -> None:
    try:
        validate_dates(effective_from, expires_on)
    except ValueError as exc:
        raise InvalidReference(
            str(exc), errors=[{"loc": [*at, "expires_on"], "msg": str(exc)}]
        ) from exc


async def delete_agreement(session: AsyncSession, *, actor: Actor, agreement: Agreement) -> None:
    if agreement.status not in DELETABLE_STATUSES:
        raise Conflict(
            f"A {agreement.status} agreement is a record and cannot be deleted; "
            "move it to completed, terminated or expired instead.",
        )
    await agreement_rules.ensure_nothing_recorded_under(session, agreement_id=agreement.id)
    await delete_documents_of(session, actor=actor, owner_type="agreement", owner_id=agreement.id)
    # Its amendments go with it (the database cascades them), and so do their documents.
    for amendment_id in await session.scalars(
        select(Amendment.id).where(Amendment.agreement_id == agreement.id)
    ):
        await delete_documents_of(
            session, actor=actor, owner_type="amendment", owner_id=amendment_id
        )
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
