"""Amendments: effective-dated changes of an agreement's terms.

An amendment is ``pending`` until its ``effective_from``, then ``applied`` in
one transaction: its changes set on the agreement (checked by the same rules
as a PATCH), the agreement's ``terms_version`` and ``version`` bumped, the
new terms version written and ``agreement.amended`` emitted. It applies at
once when created (or moved) to today or a past date, else by the sweep
(:func:`apply_due_amendments`). Deleting a pending amendment withdraws it;
an applied one is the record and stays as it is. A closed agreement
(completed, terminated, expired, cancelled) takes no amendment: none is
recorded or changed, and a pending one whose date comes after the agreement
closed is never applied.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.agreements import versions
from shared.agreements.legal_schemas import (
    AmendmentChanges,
    AmendmentCreate,
    AmendmentPublic,
    AmendmentUpdate,
)
from shared.agreements.reads import as_public, get_agreement
from shared.agreements.service import aggregate_of, apply_terms, check_terms_change
from shared.agreements.visibility import under_visible_agreements
from shared.errors import Conflict, DomainError, InvalidReference
from shared.events import Actor, record_change
from shared.ids import uuid7
from shared.lifecycle import AGREEMENT_CLOSED_STATUSES
from shared.models import Agreement, Amendment
from shared.reports.schedule import check_reporting_change
from shared.rows import one_or_404, rows_after

log = structlog.get_logger("accords.agreements")

CHANGES_AT = ("body", "changes")
# A bound on one sweep's work; the rest waits for the next sweep.
DUE_PER_RUN = 500


def amendment_public(amendment: Amendment) -> dict[str, Any]:
    return AmendmentPublic.model_validate(amendment).model_dump(mode="json")


async def _check_amendment(
    session: AsyncSession,
    *,
    agreement: Agreement,
    changes: AmendmentChanges,
    effective_from: dt.date,
) -> None:
    """An amendment's own rules, then its changes by the agreement's rules."""
    _check_open(agreement)
    latest = await versions.latest_version(session, agreement_id=agreement.id)
    if latest is not None and latest.effective_from and effective_from < latest.effective_from:
        message = (
            f"effective_from must be on or after {latest.effective_from}, "
            f"when terms version {latest.n} took effect"
        )
        raise InvalidReference(
            f"{message}.", errors=[{"loc": ["body", "effective_from"], "msg": message}]
        )
    await _check_changes(session, agreement=agreement, changes=changes)


def _check_open(agreement: Agreement) -> None:
    """A closed agreement's terms no longer change: not by a new amendment, nor a pending one."""
    if agreement.status in AGREEMENT_CLOSED_STATUSES:
        raise Conflict(f"A {agreement.status} agreement can no longer be amended.")


async def _check_changes(
    session: AsyncSession, *, agreement: Agreement, changes: AmendmentChanges
) -> dict[str, Any]:
    """The changes by the agreement's own rules (as a PATCH), and a reporting
    schedule's reporter stays a party; answers the changed fields."""
    values = changes.model_dump(exclude_unset=True)
    await check_terms_change(
        session,
        agreement=agreement,
        changes=values,
        parties=changes.parties,
        objectives=changes.objectives,
        at=CHANGES_AT,
    )
    check_reporting_change(agreement, changes)
    return values


async def create_amendment(
    session: AsyncSession,
    *,
    actor: Actor,
    agreement: Agreement,
    payload: AmendmentCreate,
    today: dt.date,
) -> Amendment:
    """Record an amendment (the agreement locked by the caller); applied at once
    when ``effective_from`` is today or past."""
    await apply_due_amendments(session, today, agreement_id=agreement.id)
    await _check_amendment(
        session, agreement=agreement, changes=payload.changes, effective_from=payload.effective_from
    )
    amendment = Amendment(
        id=uuid7(),
        agreement_id=agreement.id,
        title=payload.title,
        kind=payload.kind,
        summary=payload.summary,
        signed_on=payload.signed_on,
        effective_from=payload.effective_from,
        changes=payload.changes.as_dict(),
        status="pending",
    )
    session.add(amendment)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="amendment.created",
        aggregate=aggregate_of(agreement.id),
        entity_id=amendment.id,
        before=None,
        after=amendment_public(amendment),
    )
    if amendment.effective_from <= today:
        await apply_amendment(session, actor=actor, agreement=agreement, amendment=amendment)
    return amendment


def _ensure_pending(amendment: Amendment, doing: str) -> None:
    if amendment.status == "applied":
        raise Conflict(
            f"Amendment {amendment.id} was applied (terms version {amendment.terms_version}) "
            f"and is part of the record: it cannot be {doing}. Record a new amendment instead."
        )
    if amendment.status != "pending":
        raise Conflict(f"Amendment {amendment.id} is {amendment.status}: it cannot be {doing}.")


async def update_amendment(
    session: AsyncSession,
    *,
    actor: Actor,
    agreement: Agreement,
    amendment: Amendment,
    payload: AmendmentUpdate,
    today: dt.date,
) -> Amendment:
    """Change a pending amendment; applied at once if its date becomes today or past."""
    _ensure_pending(amendment, "changed")
    fields = payload.model_dump(exclude_unset=True, exclude={"changes"})
    if not fields and payload.changes is None:
        return amendment
    changes = payload.changes or AmendmentChanges.model_validate(amendment.changes)
    effective_from = payload.effective_from or amendment.effective_from
    await _check_amendment(
        session, agreement=agreement, changes=changes, effective_from=effective_from
    )
    before = amendment_public(amendment)
    for field in ("title", "kind", "summary", "signed_on", "effective_from"):
        if field in fields:
            setattr(amendment, field, fields[field])
    if payload.changes is not None:
        amendment.changes = payload.changes.as_dict()
    amendment.updated_at = clock.utcnow()
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="amendment.updated",
        aggregate=aggregate_of(agreement.id),
        entity_id=amendment.id,
        before=before,
        after=amendment_public(amendment),
    )
    if amendment.effective_from <= today:
        await apply_due_amendments(session, today, agreement_id=agreement.id)
    return amendment


async def withdraw_amendment(
    session: AsyncSession, *, actor: Actor, agreement: Agreement, amendment: Amendment
) -> None:
    """Delete a pending amendment: it stays on record as ``withdrawn``."""
    _ensure_pending(amendment, "deleted")
    before = amendment_public(amendment)
    amendment.status = "withdrawn"
    amendment.updated_at = clock.utcnow()
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="amendment.deleted",
        aggregate=aggregate_of(agreement.id),
        entity_id=amendment.id,
        before=before,
        after=amendment_public(amendment),
    )


async def apply_amendment(
    session: AsyncSession, *, actor: Actor, agreement: Agreement, amendment: Amendment
) -> bool:
    """Apply a pending amendment to its agreement (locked by the caller).

    The UPDATE that marks it applied is guarded by its status, so a second
    application (another worker, a retried sweep) changes nothing and answers
    ``False``. The agreement may have moved on since the amendment was
    recorded, so it is checked again: a closed agreement refuses it
    (:class:`Conflict`), and its changes must still fit.
    """
    _check_open(agreement)
    now = clock.utcnow()
    claimed = await session.execute(
        update(Amendment)
        .where(Amendment.id == amendment.id, Amendment.status == "pending")
        .values(
            status="applied",
            applied_at=now,
            terms_version=agreement.terms_version + 1,
            version=Amendment.version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount == 0:
        return False
    await session.refresh(amendment)
    changes = AmendmentChanges.model_validate(amendment.changes)
    values = await _check_changes(session, agreement=agreement, changes=changes)
    before = as_public(agreement)
    await apply_terms(
        session,
        agreement=agreement,
        changes=values,
        parties=changes.parties,
        objectives=changes.objectives,
    )
    agreement.terms_version = amendment.terms_version or agreement.terms_version + 1
    versions.write_version(
        session,
        agreement=agreement,
        effective_from=amendment.effective_from,
        amendment_id=amendment.id,
    )
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="agreement.amended",
        aggregate=aggregate_of(agreement.id),
        entity_id=agreement.id,
        before=before,
        after=as_public(agreement),
        extra={"amendment": amendment_public(amendment)},
    )
    return True


async def apply_due_amendments(
    session: AsyncSession,
    today: dt.date,
    *,
    agreement_id: uuid.UUID | None = None,
    actor: Actor | None = None,
) -> int:
    """Apply every pending amendment whose date has come (of one agreement, or
    all), oldest date first; answers how many applied.

    Each runs in a savepoint: one whose changes no longer fit its agreement
    (say, it drops an objective an initiative took up since) stays pending,
    is logged, and does not hold back the others. The pending amendments of a
    closed agreement are not taken up at all (its terms no longer change):
    they stay pending, and may still be deleted (withdrawn).
    """
    actor = actor or Actor.system(request_id="sweep")
    query = (
        select(Amendment.id, Amendment.agreement_id)
        .join(Agreement, Agreement.id == Amendment.agreement_id)
        .where(
            Amendment.status == "pending",
            Amendment.effective_from <= today,
            Agreement.status.not_in(AGREEMENT_CLOSED_STATUSES),
        )
    )
    if agreement_id is not None:
        query = query.where(Amendment.agreement_id == agreement_id)
    due = (
        await session.execute(
            query.order_by(Amendment.effective_from, Amendment.id).limit(DUE_PER_RUN)
        )
    ).all()
    applied = 0
    for amendment_id, owner_id in due:
        try:
            async with session.begin_nested():
                agreement = await get_agreement(session, owner_id, for_update=True)
                amendment = await session.get(Amendment, amendment_id, populate_existing=True)
                if amendment is not None and await apply_amendment(
                    session, actor=actor, agreement=agreement, amendment=amendment
                ):
                    applied += 1
        except DomainError as exc:
            log.warning("amendment_not_applied", amendment_id=str(amendment_id), reason=exc.detail)
    return applied


async def get_amendment(
    session: AsyncSession, amendment_id: uuid.UUID, *, organization_id: uuid.UUID | None
) -> Amendment:
    """The amendment; 404 also when the caller may not see its agreement."""
    query = under_visible_agreements(
        select(Amendment).where(Amendment.id == amendment_id),
        Amendment.agreement_id,
        organization_id,
    )
    return await one_or_404(session, query, missing=f"Amendment {amendment_id} does not exist.")


async def list_amendments(
    session: AsyncSession,
    *,
    agreement_id: uuid.UUID,
    status: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[Amendment]:
    query = select(Amendment).where(Amendment.agreement_id == agreement_id)
    if status is not None:
        query = query.where(Amendment.status == status)
    return await rows_after(session, query, Amendment.id, after=after, limit=limit)
