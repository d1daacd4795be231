"""The agreement lifecycle: checked moves, their history, event and cascade."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements import acts, versions
from shared.agreements.reads import as_public
from shared.agreements.schemas import TransitionRequest
from shared.agreements.service import aggregate_of
from shared.errors import TransitionConditionFailed
from shared.events import Actor, record_change
from shared.initiatives import agreement_rules
from shared.lifecycle import AGREEMENT_TRANSITIONS, AgreementFacts, check_move, missing_conditions
from shared.models import Agreement, AgreementStatusChange, Organization


async def transition_agreement(
    session: AsyncSession,
    *,
    actor: Actor,
    agreement: Agreement,
    request: TransitionRequest,
) -> Agreement:
    """Move an agreement along its lifecycle, recording history and the event."""
    check_move("An agreement", AGREEMENT_TRANSITIONS, agreement.status, request.to)
    facts = AgreementFacts(
        party_roles=tuple(party.role for party in agreement.parties),
        signed_on=agreement.signed_on,
    )
    standings = standings_of(agreement)
    on = request.on
    if request.to == "signed" and on is None and agreement.signed_on is None:
        # Two signatories' signature acts date the signing: the later one.
        on = acts.signing_date(standings)
    missing = missing_conditions(request.to, facts, reason=request.reason, on=on)
    if request.to == "active":
        waiting = acts.awaiting_consent(agreement.legal_character, standings)
        if waiting:
            missing.append(
                "the consent (ratification, acceptance, approval or accession) of every "
                f"signatory of a binding agreement; still missing: "
                f"{await _names(session, waiting)}"
            )
    if missing:
        raise TransitionConditionFailed(
            f"Moving to {request.to} needs {'; and '.join(missing)}.", missing=missing
        )
    return await apply_transition(
        session,
        actor=actor,
        agreement=agreement,
        to=request.to,
        reason=request.reason,
        on=on,
    )


def standings_of(agreement: Agreement) -> list[acts.PartyStanding]:
    """The agreement's parties with the dates their acts gave them."""
    return [
        acts.PartyStanding(
            organization_id=party.organization_id,
            role=party.role,
            dates=acts.PartyDates(
                signed_on=party.signed_on,
                consented_on=party.consented_on,
                withdrawn_on=party.withdrawn_on,
            ),
        )
        for party in agreement.parties
    ]


async def _names(session: AsyncSession, organization_ids: list[uuid.UUID]) -> str:
    rows = {
        row.id: row
        for row in await session.execute(
            select(Organization.id, Organization.name, Organization.acronym).where(
                Organization.id.in_(organization_ids)
            )
        )
    }

    def label(organization_id: uuid.UUID) -> str:
        row = rows.get(organization_id)
        if row is None:
            return str(organization_id)
        name = f"{row.name} ({row.acronym})" if row.acronym else row.name
        return f"{name} [{organization_id}]"

    return ", ".join(label(organization_id) for organization_id in organization_ids)


async def apply_transition(
    session: AsyncSession,
    *,
    actor: Actor,
    agreement: Agreement,
    to: str,
    reason: str | None,
    on: dt.date | None,
) -> Agreement:
    """Record a move already checked against the rules (also used by the sweep)."""
    before = as_public(agreement)
    previous = agreement.status
    if to == "signed" and on is not None and agreement.signed_on is None:
        agreement.signed_on = on
    if to == "active" and on is not None and agreement.effective_from is None:
        agreement.effective_from = on
        await versions.correct_current_version(session, agreement=agreement)
    agreement.status = to
    agreement.updated_at = dt.datetime.now(dt.UTC)
    session.add(
        AgreementStatusChange(
            agreement_id=agreement.id,
            from_status=previous,
            to_status=to,
            reason=reason,
            on=on,
            api_key_id=actor.api_key_id,
        )
    )
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="agreement.status_changed",
        aggregate=aggregate_of(agreement.id),
        entity_id=agreement.id,
        before=before,
        after=as_public(agreement),
        extra={"previous_status": previous, "reason": reason},
    )
    # Open initiatives follow the agreement, in this same transaction.
    await agreement_rules.cascade_to_initiatives(
        session,
        actor=actor,
        agreement_id=agreement.id,
        agreement_from=previous,
        agreement_to=to,
    )
    return agreement
