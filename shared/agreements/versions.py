"""Terms versions: the terms of an agreement in force from each date.

Version 1 is written when the agreement is created; each applied amendment
adds the next. A PATCH of the agreement is a correction of the record, not
a change of the terms: it rewrites the terms of the version in force (the
latest) instead of adding one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.agreements import acts
from shared.agreements.legal_schemas import Terms
from shared.agreements.schemas import AgreementPublic, PartyPublic
from shared.errors import NotFound
from shared.ids import uuid7
from shared.models import Agreement, AgreementVersion, PartyAct
from shared.rows import rows_after

TERMS_FIELDS = tuple(Terms.model_fields)


def terms_of(agreement: Agreement | AgreementPublic) -> dict[str, Any]:
    """The agreement's current terms, JSON-ready, as a version stores them."""
    return Terms.model_validate(
        {
            "title": agreement.title,
            "summary": agreement.summary,
            "focus_areas": agreement.focus_areas,
            "objectives": agreement.objectives,
            "parties": [
                {"organization_id": party.organization_id, "role": party.role}
                for party in agreement.parties
            ],
            "effective_from": agreement.effective_from,
            "expires_on": agreement.expires_on,
        }
    ).model_dump(mode="json")


def write_version(
    session: AsyncSession,
    *,
    agreement: Agreement,
    effective_from: dt.date | None,
    amendment_id: uuid.UUID | None,
) -> AgreementVersion:
    """Add the version ``agreement.terms_version`` with the agreement's terms."""
    version = AgreementVersion(
        **version_row(agreement=agreement, effective_from=effective_from, amendment_id=amendment_id)
    )
    session.add(version)
    return version


def version_row(
    *,
    agreement: Agreement | AgreementPublic,
    effective_from: dt.date | None,
    amendment_id: uuid.UUID | None,
) -> dict[str, Any]:
    """The row of the version ``agreement.terms_version``, with the agreement's terms."""
    return {
        "id": uuid7(),
        "agreement_id": agreement.id,
        "n": agreement.terms_version,
        "effective_from": effective_from,
        "amendment_id": amendment_id,
        "terms": terms_of(agreement),
        "created_at": clock.utcnow(),
    }


async def correct_current_version(session: AsyncSession, *, agreement: Agreement) -> None:
    """Rewrite the version in force with the agreement's (corrected) terms; the
    first version also takes the corrected ``effective_from``."""
    version = await session.scalar(
        select(AgreementVersion).where(
            AgreementVersion.agreement_id == agreement.id,
            AgreementVersion.n == agreement.terms_version,
        )
    )
    if version is None:  # cannot happen after migration 0008; heal rather than fail
        write_version(
            session, agreement=agreement, effective_from=agreement.effective_from, amendment_id=None
        )
        return
    version.terms = terms_of(agreement)
    if version.n == 1:
        version.effective_from = agreement.effective_from


async def list_versions(
    session: AsyncSession, *, agreement_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[AgreementVersion]:
    query = select(AgreementVersion).where(AgreementVersion.agreement_id == agreement_id)
    # ids are time-ordered: the order of n
    return await rows_after(session, query, AgreementVersion.id, after=after, limit=limit)


async def get_version(
    session: AsyncSession, *, agreement_id: uuid.UUID, n: int
) -> AgreementVersion:
    version = await session.scalar(
        select(AgreementVersion).where(
            AgreementVersion.agreement_id == agreement_id, AgreementVersion.n == n
        )
    )
    if version is None:
        raise NotFound(f"Agreement {agreement_id} has no terms version {n}.")
    return version


async def latest_version(
    session: AsyncSession, *, agreement_id: uuid.UUID
) -> AgreementVersion | None:
    return await session.scalar(
        select(AgreementVersion)
        .where(AgreementVersion.agreement_id == agreement_id)
        .order_by(AgreementVersion.n.desc())
        .limit(1)
    )


async def version_in_force(
    session: AsyncSession, *, agreement_id: uuid.UUID, on: dt.date
) -> AgreementVersion | None:
    """The version in force on ``on``: the latest one dated on or before it (a
    version without a date counts from the start). Before the first version's
    date, the first version (the terms as first agreed)."""
    found = await session.scalar(
        select(AgreementVersion)
        .where(
            AgreementVersion.agreement_id == agreement_id,
            or_(AgreementVersion.effective_from.is_(None), AgreementVersion.effective_from <= on),
        )
        .order_by(AgreementVersion.n.desc())
        .limit(1)
    )
    if found is not None:
        return found
    return await session.scalar(
        select(AgreementVersion)
        .where(AgreementVersion.agreement_id == agreement_id)
        .order_by(AgreementVersion.n)
        .limit(1)
    )


async def agreement_as_of(
    session: AsyncSession, agreement: AgreementPublic, *, on: dt.date
) -> AgreementPublic:
    """The agreement with the terms in force on ``on`` (see :func:`version_in_force`):
    its terms fields and ``terms_version`` from that version, each party's
    dates from its acts on or before ``on``; the rest (status, ``version``)
    as it stands now."""
    version = await version_in_force(session, agreement_id=agreement.id, on=on)
    if version is None:
        return agreement
    terms = Terms.model_validate(version.terms)
    acts_of: dict[uuid.UUID, list[acts.Act]] = {}
    for row in await session.scalars(select(PartyAct).where(PartyAct.agreement_id == agreement.id)):
        acts_of.setdefault(row.organization_id, []).append(acts.Act(act=row.act, on=row.on))
    parties = [
        PartyPublic(
            organization_id=party.organization_id,
            role=party.role,
            **vars(acts.party_dates(acts_of.get(party.organization_id, []), as_of=on)),
        )
        for party in terms.parties
    ]
    return agreement.model_copy(
        update={
            "title": terms.title,
            "summary": terms.summary,
            "focus_areas": terms.focus_areas,
            "objectives": terms.objectives,
            "parties": parties,
            "effective_from": terms.effective_from,
            "expires_on": terms.expires_on,
            "terms_version": version.n,
        }
    )
