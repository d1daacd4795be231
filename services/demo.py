"""The reference story (SPEC section 9, `../shared/seed/stza-gei-mou.txt`).

The Special Technology Zones Authority (STZA, Pakistan) and the Great Wall
Enterprise Institute (GEI, China) signed an MoU at the China-Pakistan Science,
Technology and Innovation Cooperation Conference, on the sidelines of CIFTIS.
The press release gives no date: CIFTIS 2023 ran from 2 to 6 September, so
the signing date below is illustrative, and so are the expiry and the
websites' absence. Loading goes through the same services as the API, so it
writes the same events and audit rows.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from services.demo_legal import load_legal
from services.demo_records import load_records
from services.demo_reminders import load_reminders
from services.demo_results import load_results
from services.demo_tracking import load_tracking
from shared.agreements import lifecycle as agreement_lifecycle
from shared.agreements import service as agreements
from shared.agreements.reads import get_agreement
from shared.agreements.schemas import AgreementCreate, TransitionRequest
from shared.clock import today
from shared.db import create_engine, create_sessionmaker
from shared.events import Actor
from shared.models import Agreement
from shared.organizations import service as organizations
from shared.organizations.schemas import OrganizationCreate
from shared.settings import Settings

MOU_REFERENCE = "STZA-GEI-MOU-2023"
SIGNED_ON = dt.date(2023, 9, 4)

OBJECTIVES = [
    {"ref": "O1", "text": "Capacity building of policymakers in science and technology."},
    {"ref": "O2", "text": "Cultivate robust ecosystems conducive to innovation."},
    {"ref": "O3", "text": "Facilitate collaborative research initiatives."},
    {
        "ref": "O4",
        "text": "Strategic planning for the development of Special Technology Zones.",
    },
]


async def load_demo(settings: Settings) -> str:
    """Load the story once; a second run changes nothing."""
    engine = create_engine(settings)
    actor = Actor.system(request_id="accords-demo")
    try:
        async with create_sessionmaker(engine)() as session:
            existing = await session.scalar(
                select(Agreement.id).where(Agreement.reference == MOU_REFERENCE)
            )
            if existing is not None:
                return f"The reference story is already loaded (agreement {existing})."
            stza = await organizations.create_organization(
                session,
                actor=actor,
                payload=OrganizationCreate(
                    name="Special Technology Zones Authority",
                    acronym="STZA",
                    kind="government_agency",
                    country="PK",
                ),
            )
            gei = await organizations.create_organization(
                session,
                actor=actor,
                payload=OrganizationCreate(
                    name="Great Wall Enterprise Institute",
                    acronym="GEI",
                    kind="research_institute",
                    country="CN",
                ),
            )
            created = await agreements.create_agreement(
                session,
                actor=actor,
                payload=AgreementCreate(
                    reference=MOU_REFERENCE,
                    title="Memorandum of Understanding between STZA and GEI on science, "
                    "technology and innovation cooperation",
                    instrument_type="mou",
                    legal_character="non_binding",
                    summary=(
                        "Capacity building of policymakers in science and technology, "
                        "innovation ecosystems, collaborative research, and strategic "
                        "planning for the development of Special Technology Zones."
                    ),
                    focus_areas=[
                        "policymaker capacity building",
                        "innovation ecosystems",
                        "collaborative research",
                        "special technology zones",
                    ],
                    objectives=OBJECTIVES,
                    signed_at=(
                        "China-Pakistan Science, Technology and Innovation Cooperation "
                        "Conference, on the sidelines of CIFTIS, Beijing"
                    ),
                    effective_from=SIGNED_ON,
                    expires_on=SIGNED_ON.replace(year=SIGNED_ON.year + 5),
                    parties=[
                        {"organization_id": stza.id, "role": "signatory"},
                        {"organization_id": gei.id, "role": "signatory"},
                    ],
                ),
            )
            mou = await get_agreement(session, created.public.id)
            for target, on in (
                ("negotiation", None),
                ("signed", SIGNED_ON),
                ("active", SIGNED_ON),
            ):
                await agreement_lifecycle.transition_agreement(
                    session,
                    actor=actor,
                    agreement=mou,
                    request=TransitionRequest(to=target, on=on),
                )
            tracking = await load_tracking(
                session, actor=actor, mou=mou, stza=stza, gei=gei, today=today()
            )
            legal = await load_legal(
                session,
                actor=actor,
                mou=mou,
                signatories=[stza, gei],
                signed_on=SIGNED_ON,
                place=str(mou.signed_at),
                today=today(),
            )
            records = await load_records(session, actor=actor, mou=mou, stza=stza, gei=gei)
            results = await load_results(
                session, actor=actor, mou=mou, stza=stza, gei=gei, today=today()
            )
            reminders = await load_reminders(session, actor=actor, mou=mou, stza=stza, gei=gei)
            await session.commit()
            return (
                f"Loaded STZA ({stza.id}), GEI ({gei.id}) and their MoU "
                f"{MOU_REFERENCE} ({mou.id}), signed {SIGNED_ON} and active, "
                f"with {tracking}; {legal}; {records}; {results}; {reminders}."
            )
    finally:
        await engine.dispose()
