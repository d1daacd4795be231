"""Actions on the legal record and reports: party acts, documents, report drafts.

Like ``actions``: the CSRF token and the `write` scope are checked, then the
service /v1 calls does the work (same rules, events and audit row, with the
key's id and the request id); a refusal shows the rule's message next to the
form, keeps what was typed, and changes nothing. Field ids carry the form's
prefix (``act-``, ``document-``, ``report-<id>-``) so the error summary links
to the right field of a page with several forms.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from services.api.deps import SessionDep, SettingsDep
from services.api.documents.upload import Upload, receive_upload, safe_filename
from shared.agreements import party_acts
from shared.agreements import reads as agreements
from shared.agreements.legal_schemas import PartyActCreate
from shared.dashboard.forms import FieldError, blank_to_none, parse_form, prefixed, refusal
from shared.documents import service as documents
from shared.documents.media_types import EXTENSIONS, media_type_of
from shared.documents.schemas import DocumentCreate
from shared.errors import DomainError
from shared.reports import service as reports
from shared.reports.schemas import MAX_TEXT, ReportTransition, ReportUpdate

from .actions import Text, refused, require_write, saved
from .auth import CurrentViewer, FormViewer, Viewer, check_csrf

router = APIRouter(prefix="/app", include_in_schema=False)
# A fixed path: the body size limit lets it take a document as large as /v1's.
UPLOAD_PATH = "/app/documents"

# Room for the schema's own limit to speak (a field error, not a 422 page).
LongText = Annotated[str, Form(max_length=MAX_TEXT + 1000)]

NOT_ACCEPTED = (
    "The file is none of the accepted types (PDF, PNG, JPEG, plain text, CSV, DOCX, "
    "XLSX, ODT); its type is judged from its bytes, not its name."
)


@router.post("/agreements/{agreement_id}/party-acts")
async def record_party_act(
    request: Request,
    agreement_id: uuid.UUID,
    session: SessionDep,
    viewer: FormViewer,
    organization_id: Text = "",
    act: Text = "",
    on: Text = "",
    signed_by_name: Text = "",
    signed_by_title: Text = "",
    place: Text = "",
    note: Text = "",
) -> Response:
    """Record what a party did (POST /v1/agreements/{id}/party-acts)."""
    require_write(viewer)
    agreement = await agreements.get_agreement(
        session, agreement_id, organization_id=viewer.organization_id, for_update=True
    )
    values = {
        "organization_id": organization_id,
        "act": act,
        "on": on,
        "signed_by_name": signed_by_name,
        "signed_by_title": signed_by_title,
        "place": place,
        "note": note,
    }
    body, errors = parse_form(PartyActCreate, values)
    if body is None:
        errors = prefixed(errors, "act-")
        return await refused(
            request, session, viewer, agreement_id, "party-act", values, errors, 422
        )
    try:
        await party_acts.record_party_act(
            session, actor=viewer.principal.actor, agreement=agreement, payload=body
        )
    except DomainError as exc:
        errors = prefixed(refusal(exc), "act-")
        return await refused(
            request, session, viewer, agreement_id, "party-act", values, errors, exc.status
        )
    return saved(agreement_id, "party_act", "parties")


@router.post("/reports/{report_id}/draft")
async def write_report(
    request: Request,
    report_id: uuid.UUID,
    session: SessionDep,
    viewer: FormViewer,
    version: Annotated[int, Form()] = 0,
    narrative: LongText = "",
    challenges: LongText = "",
    next_steps: LongText = "",
    action: Annotated[Literal["save", "submit"], Form()] = "save",
) -> Response:
    """Write the report's text (PATCH /v1/reports/{id}, If-Match: version) and, for
    ``action=submit``, submit it (POST /v1/reports/{id}/transitions, to submitted),
    in one transaction: a refused submission keeps the text unsaved as well."""
    require_write(viewer)
    report = await reports.get_report(
        session, report_id, organization_id=viewer.organization_id, for_update=True
    )
    agreement_id = report.agreement_id
    prefix = f"report-{report_id}-"
    form = f"{prefix}draft"
    values = {"narrative": narrative, "challenges": challenges, "next_steps": next_steps}
    if report.version != version:
        message = "The report changed since this page was loaded; check it and try again."
        errors = [FieldError(None, message)]
        return await refused(request, session, viewer, agreement_id, form, values, errors, 412)
    # Only what differs from the stored text is a change (no empty report.updated).
    changes = {
        name: value
        for name, value in blank_to_none(values).items()
        if value != getattr(report, name)
    }
    body, errors = parse_form(ReportUpdate, changes)
    if body is None:
        errors = prefixed(errors, prefix)
        return await refused(request, session, viewer, agreement_id, form, values, errors, 422)
    actor = viewer.principal.actor
    scope = viewer.organization_id
    try:
        await reports.update_report(
            session, actor=actor, report=report, payload=body, caller_organization_id=scope
        )
        if action == "submit":
            await reports.transition_report(
                session,
                actor=actor,
                report=report,
                request=ReportTransition(to="submitted"),
                caller_organization_id=scope,
            )
    except DomainError as exc:
        errors = prefixed(refusal(exc), prefix)
        return await refused(
            request, session, viewer, agreement_id, form, values, errors, exc.status
        )
    what = "report_submitted" if action == "submit" else "report_draft"
    return saved(agreement_id, what, prefix.removesuffix("-"))


@router.post(UPLOAD_PATH.removeprefix(router.prefix))
async def upload_document(
    request: Request,
    session: SessionDep,
    viewer: CurrentViewer,
    settings: SettingsDep,
    agreement_id: uuid.UUID,
) -> Response:
    """Upload a document to the agreement (POST /v1/documents, multipart): the
    same streaming limit (413 as soon as the file passes it), the same sniffed
    media types (415) and the same metadata rules. The CSRF token is a field of
    the multipart body, checked before anything is stored."""
    require_write(viewer)
    await agreements.get_agreement(session, agreement_id, organization_id=viewer.organization_id)
    # End the sign-in's transaction before a possibly slow upload (as /v1):
    # on SQLite every transaction holds the database lock.
    await session.commit()
    try:
        upload = await receive_upload(request, max_file_bytes=settings.max_document_bytes)
    except DomainError as exc:
        # Nothing was read that could change anything; the file has to be chosen again.
        errors = prefixed(refusal(exc), "document-")
        return await refused(
            request, session, viewer, agreement_id, "document", {}, errors, exc.status
        )
    try:
        check_csrf(viewer, upload.fields.get("csrf_token", ""))
        return await _store(request, session, viewer, agreement_id, upload)
    finally:
        if upload.file is not None:
            upload.file.file.close()


async def _store(
    request: Request,
    session: SessionDep,
    viewer: Viewer,
    agreement_id: uuid.UUID,
    upload: Upload,
) -> Response:
    fields = upload.fields
    values = {name: fields.get(name, "") for name in ("kind", "title", "language", "authentic")}
    body, errors = parse_form(
        DocumentCreate,
        {
            **values,
            "owner_type": "agreement",
            "owner_id": str(agreement_id),
            # An unticked checkbox sends nothing: not authentic.
            "authentic": values["authentic"] or False,
        },
    )
    errors = prefixed(errors, "document-")
    received = upload.file
    if received is None or received.size == 0:
        errors.append(FieldError("document-file", "Choose a file to upload; it cannot be empty."))
    if body is None or received is None or errors:
        return await refused(
            request, session, viewer, agreement_id, "document", values, errors, 422
        )
    media_type = media_type_of(
        received.inspector, filename=received.filename, declared_type=received.declared_type
    )
    if media_type is None:
        errors = [FieldError("document-file", NOT_ACCEPTED)]
        return await refused(
            request, session, viewer, agreement_id, "document", values, errors, 415
        )
    try:
        owner = await documents.find_owner(
            session, "agreement", agreement_id, organization_scope=viewer.organization_id
        )
        await documents.add_document(
            session,
            actor=viewer.principal.actor,
            owner=owner,
            payload=body,
            content=documents.ReceivedContent(
                file=received.file,
                filename=safe_filename(received.filename, extension=EXTENSIONS[media_type]),
                media_type=media_type,
                size=received.size,
                sha256=received.digest.hexdigest(),
            ),
        )
    except DomainError as exc:
        errors = prefixed(refusal(exc), "document-")
        return await refused(
            request, session, viewer, agreement_id, "document", values, errors, exc.status
        )
    return saved(agreement_id, "document", "documents")
