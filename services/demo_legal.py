"""The legal record of the reference story (SPEC §16): who signed the MoU,
where and when, and its two-year extension.

The press release names no signatories; the titles below are illustrative,
like the signing date (``services.demo.SIGNED_ON``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from shared.agreements import amendments, party_acts
from shared.agreements.legal_schemas import AmendmentChanges, AmendmentCreate, PartyActCreate
from shared.events import Actor
from shared.models import Agreement, Organization

EXTENSION_YEARS = 2


async def load_legal(
    session: AsyncSession,
    *,
    actor: Actor,
    mou: Agreement,
    signatories: list[Organization],
    signed_on: dt.date,
    place: str,
    today: dt.date,
) -> str:
    """Record each signatory's signature act, then extend the MoU by two years
    through an amendment effective today (so applied at once)."""
    for organization in signatories:
        await party_acts.record_party_act(
            session,
            actor=actor,
            agreement=mou,
            payload=PartyActCreate(
                organization_id=organization.id,
                act="signature",
                on=signed_on,
                signed_by_title=f"Head of {organization.acronym}",
                place=place,
            ),
        )
    expires_on = mou.expires_on
    assert expires_on is not None
    extended_to = expires_on.replace(year=expires_on.year + EXTENSION_YEARS)
    await amendments.create_amendment(
        session,
        actor=actor,
        agreement=mou,
        payload=AmendmentCreate(
            title=f"Extension of the MoU by {EXTENSION_YEARS} years",
            kind="extension",
            summary=(
                "STZA and GEI extend the MoU to carry the Special Technology Zones "
                f"planning work through to {extended_to}."
            ),
            signed_on=today,
            effective_from=today,
            changes=AmendmentChanges(expires_on=extended_to),
        ),
        today=today,
    )
    return (
        f"signature acts of {' and '.join(str(o.acronym) for o in signatories)} on {signed_on}, "
        f"an extension to {extended_to} (terms version {mou.terms_version})"
    )
