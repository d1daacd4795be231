"""Load what IATI activities are built from, a batch of agreements at a time.

Each batch is a handful of statements (agreements, parties with their
organizations, end dates, initiatives, and, once their tables exist,
indicators with their latest measurement and documents), whatever the batch
size: no query per agreement.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pycountry
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements.reads import list_query
from shared.db import Base
from shared.iati.facts import (
    AgreementFacts,
    DocumentFacts,
    IndicatorFacts,
    InitiativeFacts,
    OrganizationFacts,
    PartyFacts,
)
from shared.models import (
    Agreement,
    AgreementParty,
    AgreementStatusChange,
    Engagement,
    Initiative,
    Organization,
)

ENDING_STATUSES = ("completed", "expired", "terminated")
DEFAULT_BATCH_SIZE = 100


def _table(name: str) -> Table | None:
    """A table another capability adds (indicators, documents), when it is there."""
    return Base.metadata.tables.get(name)


async def iter_batches(
    sessionmaker: Callable[[], Any],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    after: uuid.UUID | None = None,
    **filters: Any,
) -> AsyncIterator[list[AgreementFacts]]:
    """Every matching agreement, in id order, ``batch_size`` at a time; each
    batch reads in its own short session so a long export holds no
    transaction (nor SQLite's write lock) open."""
    while True:
        async with sessionmaker() as session:
            batch = await load_agreements(session, after=after, limit=batch_size, **filters)
        if not batch:
            return
        yield batch
        if len(batch) < batch_size:
            return
        after = batch[-1].id


async def load_agreements(
    session: AsyncSession,
    *,
    after: uuid.UUID | None,
    limit: int,
    organization_scope: uuid.UUID | None,
    organization_id: uuid.UUID | None = None,
    status: str | None = None,
    agreement_id: uuid.UUID | None = None,
) -> list[AgreementFacts]:
    """Up to ``limit`` agreements after ``after`` that the caller may see."""
    query = list_query(
        organization_scope=organization_scope,
        organization_id=organization_id,
        status=status,
        query=select(Agreement),
    )
    if agreement_id is not None:
        query = query.where(Agreement.id == agreement_id)
    if after is not None:
        query = query.where(Agreement.id > after)
    agreements = list((await session.scalars(query.order_by(Agreement.id).limit(limit))).all())
    if not agreements:
        return []
    ids = [agreement.id for agreement in agreements]
    parties = await _parties(session, ids)
    ended = await _end_dates(session, ids)
    initiatives = await _initiatives(session, ids)
    documents = await _documents(session, ids)
    return [
        AgreementFacts(
            id=agreement.id,
            reference=agreement.reference,
            title=agreement.title,
            summary=agreement.summary,
            objectives=list(agreement.objectives or []),
            instrument_type=agreement.instrument_type,
            status=agreement.status,
            signed_on=agreement.signed_on,
            effective_from=agreement.effective_from,
            expires_on=agreement.expires_on,
            registered_on=agreement.created_at.date(),
            updated_at=agreement.updated_at,
            ended_on=ended.get(agreement.id) if agreement.status in ENDING_STATUSES else None,
            parties=parties.get(agreement.id, []),
            initiatives=initiatives.get(agreement.id, []),
            documents=documents.get(agreement.id, []),
        )
        for agreement in agreements
    ]


async def _parties(
    session: AsyncSession, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[PartyFacts]]:
    rows = await session.execute(
        select(
            AgreementParty.agreement_id,
            AgreementParty.role,
            Organization.id,
            Organization.name,
            Organization.kind,
            Organization.country,
            Organization.iati_ref,
        )
        .join(Organization, Organization.id == AgreementParty.organization_id)
        .where(AgreementParty.agreement_id.in_(ids))
        .order_by(AgreementParty.agreement_id, AgreementParty.position)
    )
    parties: dict[uuid.UUID, list[PartyFacts]] = {}
    for agreement_id, role, *organization in rows:
        parties.setdefault(agreement_id, []).append(
            PartyFacts(organization=OrganizationFacts(*organization), role=role)
        )
    return parties


async def _end_dates(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, dt.date]:
    """The date of each agreement's last move to completed, expired or terminated."""
    rows = await session.execute(
        select(
            AgreementStatusChange.agreement_id, AgreementStatusChange.on, AgreementStatusChange.at
        )
        .where(
            AgreementStatusChange.agreement_id.in_(ids),
            AgreementStatusChange.to_status.in_(ENDING_STATUSES),
        )
        .order_by(AgreementStatusChange.at)
    )
    return {agreement_id: on or at.date() for agreement_id, on, at in rows}


async def _initiatives(
    session: AsyncSession, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[InitiativeFacts]]:
    rows = list(
        (
            await session.scalars(
                select(Initiative)
                .where(Initiative.agreement_id.in_(ids))
                .order_by(Initiative.agreement_id, Initiative.id)
            )
        ).all()
    )
    indicators = await _indicators(session, ids)
    initiatives: dict[uuid.UUID, list[InitiativeFacts]] = {}
    for initiative in rows:
        initiatives.setdefault(initiative.agreement_id, []).append(
            InitiativeFacts(
                id=initiative.id,
                title=initiative.title,
                description=initiative.description,
                status=initiative.status,
                objective_ref=initiative.objective_ref,
                lead_organization_id=initiative.lead_organization_id,
                planned_start=initiative.planned_start,
                planned_end=initiative.planned_end,
                actual_start=initiative.actual_start,
                actual_end=initiative.actual_end,
                registered_on=initiative.created_at.date(),
                updated_at=initiative.updated_at,
                indicators=indicators.get(initiative.id, []),
            )
        )
    return initiatives


async def _indicators(
    session: AsyncSession, agreement_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[IndicatorFacts]]:
    """Indicators by initiative, each with its latest measurement (results, SPEC §11)."""
    indicators, measurements = _table("indicators"), _table("indicator_measurements")
    if indicators is None or measurements is None:
        return {}
    rows = (
        await session.execute(
            select(indicators)
            .where(indicators.c.agreement_id.in_(agreement_ids))
            .order_by(indicators.c.id)
        )
    ).mappings()
    by_id: dict[uuid.UUID, dict[str, Any]] = {row["id"]: dict(row) for row in rows}
    if not by_id:
        return {}
    latest: dict[uuid.UUID, tuple[Any, dt.date]] = {}
    measured = await session.execute(
        select(measurements.c.indicator_id, measurements.c.value, measurements.c.on)
        .where(measurements.c.agreement_id.in_(agreement_ids))
        .order_by(measurements.c.indicator_id, measurements.c.on, measurements.c.id)
    )
    for indicator_id, value, on in measured:
        latest[indicator_id] = (value, on)  # ordered: the last one wins
    grouped: dict[uuid.UUID, list[IndicatorFacts]] = {}
    for indicator_id, row in by_id.items():
        value, on = latest.get(indicator_id, (None, None))
        grouped.setdefault(row["initiative_id"], []).append(
            IndicatorFacts(
                id=indicator_id,
                title=row["title"],
                measure=row["measure"],
                unit=row.get("unit"),
                baseline=row.get("baseline"),
                target=row.get("target"),
                objective_ref=row.get("objective_ref"),
                latest_value=value,
                latest_on=on,
            )
        )
    return grouped


async def _documents(
    session: AsyncSession, agreement_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[DocumentFacts]]:
    """Documents of each agreement and of its engagements, research
    collaborations and reports (documents, SPEC §10)."""
    documents = _table("documents")
    if documents is None:
        return {}
    columns = (
        documents.c.id,
        documents.c.kind,
        documents.c.title,
        documents.c.filename,
        documents.c.media_type,
        documents.c.language,
        documents.c.created_at,
    )
    queries = [
        select(documents.c.owner_id.label("agreement_id"), *columns).where(
            documents.c.owner_type == "agreement", documents.c.owner_id.in_(agreement_ids)
        )
    ]
    # Documents of what hangs under an agreement count as the agreement's.
    owners = {
        "engagement": Engagement.__table__,
        "research_collaboration": _table("research_collaborations"),
        "report": _table("reports"),
    }
    for owner_type, owner in owners.items():
        if owner is None:
            continue
        queries.append(
            select(owner.c.agreement_id, *columns)
            .join(owner, owner.c.id == documents.c.owner_id)
            .where(documents.c.owner_type == owner_type, owner.c.agreement_id.in_(agreement_ids))
        )
    grouped: dict[uuid.UUID, list[DocumentFacts]] = {}
    for query in queries:
        for row in (await session.execute(query.order_by(documents.c.id))).mappings():
            grouped.setdefault(row["agreement_id"], []).append(
                DocumentFacts(
                    id=row["id"],
                    kind=row["kind"],
                    title=row["title"],
                    filename=row["filename"],
                    media_type=row["media_type"],
                    language=row["language"],
                    created_on=row["created_at"].date(),
                )
            )
    return grouped


async def reporting_country(session: AsyncSession, reporting_ref: str) -> str | None:
    """The reporting organization's country: that of the organization whose
    ``iati_ref`` is the reporting ref, else the ref's prefix when it is a
    country code (organisation identifiers of national registries start with
    one, e.g. ``PK-...``; ``XM-``/``XI-`` are not countries)."""
    country = await session.scalar(
        select(Organization.country).where(Organization.iati_ref == reporting_ref).limit(1)
    )
    if country:
        return country.upper()
    prefix = reporting_ref.split("-", 1)[0].upper()
    if len(prefix) == 2 and pycountry.countries.get(alpha_2=prefix) is not None:
        return prefix
    return None
