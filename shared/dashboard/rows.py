"""Agreement rows with their rollup figures and party names, for tables."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements.schemas import AgreementPublic
from shared.models import AgreementRollup, Organization
from shared.rollups import service as rollups
from shared.rollups.schemas import AgreementRollupPublic


@dataclass(frozen=True)
class PartyView:
    organization_id: uuid.UUID
    name: str
    acronym: str | None
    country: str
    role: str
    # The dates its acts give (SPEC section 10), as the agreement read shows them.
    signed_on: dt.date | None = None
    consented_on: dt.date | None = None
    withdrawn_on: dt.date | None = None

    @property
    def short_name(self) -> str:
        return self.acronym or self.name


@dataclass(frozen=True)
class AgreementRow:
    agreement: AgreementPublic
    parties: list[PartyView]
    rollup: AgreementRollupPublic

    @property
    def expires_in_days(self) -> int | None:
        expires_on = self.agreement.expires_on
        return None if expires_on is None else (expires_on - dt.date.today()).days


async def organizations_by_id(
    session: AsyncSession, organization_ids: set[uuid.UUID]
) -> dict[uuid.UUID, Organization]:
    if not organization_ids:
        return {}
    found = await session.scalars(select(Organization).where(Organization.id.in_(organization_ids)))
    return {organization.id: organization for organization in found}


def party_views(
    agreement: AgreementPublic, organizations: dict[uuid.UUID, Organization]
) -> list[PartyView]:
    views = []
    for party in agreement.parties:
        organization = organizations.get(party.organization_id)
        views.append(
            PartyView(
                organization_id=party.organization_id,
                name=organization.name if organization else str(party.organization_id),
                acronym=organization.acronym if organization else None,
                country=organization.country if organization else "",
                role=party.role,
                signed_on=party.signed_on,
                consented_on=party.consented_on,
                withdrawn_on=party.withdrawn_on,
            )
        )
    return views


async def rollups_of(
    session: AsyncSession, agreement_ids: list[uuid.UUID], *, organization_scope: uuid.UUID | None
) -> dict[uuid.UUID, AgreementRollupPublic]:
    """The rollups /v1 serves: stored by the worker, else computed on the spot."""
    if not agreement_ids:
        return {}
    stored = await session.scalars(
        select(AgreementRollup).where(AgreementRollup.agreement_id.in_(agreement_ids))
    )
    bodies: dict[uuid.UUID, dict[str, Any]] = {
        row.agreement_id: {**row.body, "computed_at": row.computed_at} for row in stored
    }
    for agreement_id in agreement_ids:
        if agreement_id not in bodies:
            bodies[agreement_id] = await rollups.agreement_rollup(
                session, agreement_id, organization_id=organization_scope
            )
    return {key: AgreementRollupPublic.model_validate(body) for key, body in bodies.items()}


async def agreement_rows(
    session: AsyncSession, agreements: list[Any], *, organization_scope: uuid.UUID | None
) -> list[AgreementRow]:
    """Table rows for agreements as the agreements service lists them."""
    public = [AgreementPublic.model_validate(agreement) for agreement in agreements]
    organizations = await organizations_by_id(
        session, {party.organization_id for agreement in public for party in agreement.parties}
    )
    figures = await rollups_of(
        session, [agreement.id for agreement in public], organization_scope=organization_scope
    )
    return [
        AgreementRow(
            agreement=agreement,
            parties=party_views(agreement, organizations),
            rollup=figures[agreement.id],
        )
        for agreement in public
    ]
