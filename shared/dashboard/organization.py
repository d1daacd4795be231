"""The Organization page: the organization and the agreements it is party to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from shared.contacts.schemas import ContactPublic
from shared.dashboard.portfolio import PortfolioFilters, PortfolioPage, portfolio_page
from shared.dashboard.record import organization_contacts
from shared.organizations import service as organizations
from shared.organizations.schemas import OrganizationPublic


@dataclass(frozen=True)
class OrganizationPage:
    organization: OrganizationPublic
    portfolio: PortfolioPage
    contacts: list[ContactPublic]


async def organization_page(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    organization_scope: uuid.UUID | None,
    after: uuid.UUID | None,
) -> OrganizationPage:
    organization = await organizations.get_organization(session, organization_id)
    portfolio = await portfolio_page(
        session,
        organization_scope=organization_scope,
        organization_id=organization_id,
        filters=PortfolioFilters(),
        after=after,
    )
    return OrganizationPage(
        organization=OrganizationPublic.model_validate(organization),
        portfolio=portfolio,
        contacts=await organization_contacts(
            session, organization_id, organization_scope=organization_scope
        ),
    )
