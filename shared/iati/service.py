"""IATI export use cases: the publisher from the settings, the documents."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Conflict, NotFound
from shared.iati import codes
from shared.iati.facts import AgreementFacts, ExportContext, ReportingOrg
from shared.iati.source import iter_batches, load_agreements, reporting_country
from shared.iati.writer import render_document, stream_document
from shared.settings import Settings


class ReportingOrgNotConfigured(Conflict):
    type_slug = "iati-reporting-org-not-configured"
    title = "IATI reporting organisation not configured"


def reporting_org(settings: Settings) -> ReportingOrg:
    """The publisher of every IATI document; 409 until the settings name it."""
    missing = [
        f"ACCORDS_IATI_REPORTING_ORG_{name.upper()}"
        for name in ("ref", "type", "name")
        if not (getattr(settings, f"iati_reporting_org_{name}") or "").strip()
    ]
    if missing:
        raise ReportingOrgNotConfigured(
            "The IATI export needs the publishing organisation; set "
            + ", ".join(missing)
            + " (its IATI organisation identifier, OrganisationType code and name)."
        )
    org_type = settings.iati_reporting_org_type.strip()  # type: ignore[union-attr]
    if org_type not in codes.ORGANISATION_TYPES:
        raise ReportingOrgNotConfigured(
            f"ACCORDS_IATI_REPORTING_ORG_TYPE={org_type!r} is not an IATI OrganisationType "
            f"code (one of {', '.join(sorted(codes.ORGANISATION_TYPES))})."
        )
    return ReportingOrg(
        ref=settings.iati_reporting_org_ref.strip(),  # type: ignore[union-attr]
        type=org_type,
        name=settings.iati_reporting_org_name.strip(),  # type: ignore[union-attr]
    )


async def export_context(
    session: AsyncSession, settings: Settings, *, today: dt.date | None = None
) -> ExportContext:
    publisher = reporting_org(settings)
    return ExportContext(
        reporting_org=publisher,
        public_url=settings.public_url,
        language=settings.iati_language,
        today=today or dt.datetime.now(dt.UTC).date(),
        reporting_country=await reporting_country(session, publisher.ref),
    )


async def agreement_document(
    session: AsyncSession,
    settings: Settings,
    agreement_id: uuid.UUID,
    *,
    organization_scope: uuid.UUID | None,
) -> bytes:
    """The IATI document of one agreement and its initiatives; 404 if unseen."""
    context = await export_context(session, settings)
    agreements = await load_agreements(
        session,
        after=None,
        limit=1,
        organization_scope=organization_scope,
        agreement_id=agreement_id,
    )
    if not agreements:
        raise NotFound(f"Agreement {agreement_id} does not exist.")
    return await render_document(agreements, context)


async def portfolio_stream(
    session: AsyncSession,
    sessionmaker: Callable[[], Any],
    settings: Settings,
    *,
    organization_scope: uuid.UUID | None,
    organization_id: uuid.UUID | None = None,
    status: str | None = None,
    batch_size: int | None = None,
) -> AsyncIterator[bytes]:
    """The IATI document of every matching agreement, as a stream.

    Checks what can fail (the publisher, at least one agreement: the schema
    wants one activity or more) before the first byte, so that a failure is
    still a problem answer; then reads the rest a batch at a time.
    """
    context = await export_context(session, settings)
    filters = {
        "organization_scope": organization_scope,
        "organization_id": organization_id,
        "status": status,
    }
    size = batch_size or 100
    first = await load_agreements(session, after=None, limit=size, **filters)
    if not first:
        raise NotFound(
            "No agreement matches these filters; an IATI document holds one activity or more."
        )

    async def batches() -> AsyncIterator[list[AgreementFacts]]:
        yield first
        if len(first) == size:
            async for batch in _after(first[-1].id):
                yield batch

    async def _after(last: uuid.UUID) -> AsyncIterator[list[AgreementFacts]]:
        async for batch in iter_batches(sessionmaker, batch_size=size, after=last, **filters):
            yield batch

    return stream_document(batches(), context)
