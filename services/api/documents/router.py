"""Routes of `/v1/documents`: signed copies, annexes, minutes, and their bytes."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from services.api.deps import Reader, SessionDep, SettingsDep, Writer
from services.api.documents.download import (
    content_disposition,
    etag_matches,
    requested_range,
)
from services.api.documents.upload import InvalidUpload, receive_upload, safe_filename
from services.api.http import (
    CursorQuery,
    IfMatchHeader,
    LimitQuery,
    Page,
    check_if_match,
    decode_cursor,
    paginate,
    set_etag,
)
from services.api.problems import problem_responses
from shared.documents import service
from shared.documents.media_types import (
    ACCEPTED,
    EXTENSIONS,
    content_type_header,
    media_type_of,
)
from shared.documents.schemas import (
    DocumentCreate,
    DocumentKind,
    DocumentPublic,
    DocumentUpdate,
    OwnerType,
)
from shared.errors import UnsupportedMediaType
from shared.validation import BCP47_PATTERN, TEXT_PATTERN

router = APIRouter(prefix="/v1/documents", tags=["documents"])

_UPLOAD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["file", "owner_type", "owner_id", "kind"],
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "minLength": 1,
            "description": "The bytes (not none).",
        },
        "owner_type": {
            "type": "string",
            "enum": ["agreement", "amendment", "engagement", "report", "research_collaboration"],
        },
        "owner_id": {"type": "string", "format": "uuid"},
        "kind": {
            "type": "string",
            "enum": ["signed_copy", "draft", "annex", "minutes", "report", "other"],
        },
        "title": {"type": "string", "minLength": 1, "maxLength": 500, "pattern": TEXT_PATTERN},
        "language": {"type": "string", "pattern": BCP47_PATTERN, "maxLength": 35},
        "authentic": {"type": "boolean", "default": False},
    },
}
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": _UPLOAD_SCHEMA,
                "encoding": {"file": {"contentType": ", ".join(ACCEPTED)}},
            }
        },
    }
}
_CONTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The bytes, with the stored media type.",
        "content": {
            media_type: {"schema": {"type": "string", "format": "binary"}}
            for media_type in ACCEPTED
        },
    },
    206: {"description": "The requested byte range (`Content-Range` says which)."},
    304: {"description": "Not modified (`If-None-Match` named the current ETag)."},
}


def _no_null_fields(fields: dict[str, str]) -> dict[str, str]:
    # An empty optional field of an HTML form means "not given".
    return {
        name: value
        for name, value in fields.items()
        if value != "" or name in ("owner_type", "owner_id", "kind")
    }


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 401, 403, 413, 415, 422),
    openapi_extra=_UPLOAD_BODY,
)
async def add_document(
    request: Request,
    session: SessionDep,
    principal: Writer,
    settings: SettingsDep,
    response: Response,
) -> DocumentPublic:
    """Upload a document as `multipart/form-data`: the `file` part and the fields
    `owner_type`, `owner_id`, `kind`, and optionally `title`, `language` (BCP 47)
    and `authentic` (default false).

    The media type is sniffed from the bytes, never taken from the client: PDF,
    PNG, JPEG, plain text, CSV (text that the client names `.csv` or
    `text/csv`), DOCX, XLSX and ODT are accepted, anything else answers 415.
    Over `ACCORDS_MAX_DOCUMENT_BYTES` (25 MiB by default) answers 413, as soon
    as the upload passes the limit. The owner must exist and be visible to the
    caller (422 otherwise). Metadata and bytes are stored in one transaction.
    """
    if getattr(request.state, "idempotency_claim", None) is None:
        # End the authentication's transaction before a possibly slow upload:
        # on SQLite every transaction holds the database lock.
        await session.commit()
    upload = await receive_upload(request, max_file_bytes=settings.max_document_bytes)
    try:
        try:
            payload = DocumentCreate.model_validate(_no_null_fields(upload.fields))
        except ValidationError as exc:
            raise InvalidUpload(
                "The form fields do not match the schema; see 'errors'.",
                errors=[
                    {"loc": ["body", *map(str, error["loc"])], "msg": error["msg"]}
                    for error in exc.errors()
                ],
            ) from exc
        received = upload.file
        if received is None or received.size == 0:
            raise InvalidUpload(
                "The upload needs a non-empty `file` part.",
                errors=[{"loc": ["body", "file"], "msg": "missing or empty"}],
            )
        media_type = media_type_of(
            received.inspector, filename=received.filename, declared_type=received.declared_type
        )
        if media_type is None:
            raise UnsupportedMediaType(
                "The file is none of the accepted types (PDF, PNG, JPEG, plain text, "
                "CSV, DOCX, XLSX, ODT); its type is judged from its bytes, not its name."
            )
        owner = await service.find_owner(
            session,
            payload.owner_type,
            payload.owner_id,
            organization_scope=principal.organization_id,
        )
        document = await service.add_document(
            session,
            actor=principal.actor,
            owner=owner,
            payload=payload,
            content=service.ReceivedContent(
                file=received.file,
                filename=safe_filename(received.filename, extension=EXTENSIONS[media_type]),
                media_type=media_type,
                size=received.size,
                sha256=received.digest.hexdigest(),
            ),
        )
    finally:
        if upload.file is not None:
            upload.file.file.close()
    response.headers["Location"] = f"/v1/documents/{document.id}"
    set_etag(response, document.version)
    return DocumentPublic.model_validate(document)


@router.get("", responses=problem_responses(400, 401, 403, 422))
async def list_documents(
    session: SessionDep,
    principal: Reader,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    owner_type: OwnerType | None = Query(
        default=None, description="Only documents of this kind of owner."
    ),
    owner_id: uuid.UUID | None = Query(default=None, description="Only this owner's documents."),
    kind: DocumentKind | None = None,
) -> Page[DocumentPublic]:
    """List documents (metadata) in upload order; an organization-bound key sees
    the documents of what it sees."""
    rows = await service.list_documents(
        session,
        after=decode_cursor(cursor),
        limit=limit,
        organization_scope=principal.organization_id,
        owner_type=owner_type,
        owner_id=owner_id,
        kind=kind,
    )
    return paginate(rows, limit, DocumentPublic)


@router.get("/{document_id}", responses=problem_responses(401, 403, 404, 422))
async def get_document(
    document_id: uuid.UUID, session: SessionDep, principal: Reader, response: Response
) -> DocumentPublic:
    """Fetch a document's metadata (`filename`, `media_type`, `size`, `sha256`, ...);
    the `ETag` header carries its version. The bytes are at `content_url`."""
    document = await service.get_document(
        session, document_id, organization_scope=principal.organization_id
    )
    set_etag(response, document.version)
    return DocumentPublic.model_validate(document)


@router.patch("/{document_id}", responses=problem_responses(401, 403, 404, 412, 422, 428))
async def update_document(
    document_id: uuid.UUID,
    body: DocumentUpdate,
    session: SessionDep,
    principal: Writer,
    response: Response,
    if_match: IfMatchHeader = None,
) -> DocumentPublic:
    """Change a document's metadata (`kind`, `title`, `language`, `authentic`,
    `filename`). Needs `If-Match`. The bytes never change: upload a new document."""
    document = await service.get_document(
        session, document_id, organization_scope=principal.organization_id, for_update=True
    )
    check_if_match(if_match, document.version)
    document = await service.update_document(
        session, actor=principal.actor, document=document, payload=body
    )
    set_etag(response, document.version)
    return DocumentPublic.model_validate(document)


@router.delete(
    "/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
async def delete_document(
    document_id: uuid.UUID,
    session: SessionDep,
    principal: Writer,
    if_match: IfMatchHeader = None,
) -> None:
    """Delete a document and its bytes. Needs `If-Match`."""
    document = await service.get_document(
        session, document_id, organization_scope=principal.organization_id, for_update=True
    )
    check_if_match(if_match, document.version)
    await service.delete_document(session, actor=principal.actor, document=document)


_CONTENT_DOC = {
    "response_class": StreamingResponse,
    "responses": {**_CONTENT_RESPONSES, **problem_responses(401, 403, 404, 416, 422)},
}


@router.get("/{document_id}/content", **_CONTENT_DOC)
async def get_document_content(
    document_id: uuid.UUID, request: Request, session: SessionDep, principal: Reader
) -> Response:
    """The document's bytes, streamed, with its stored `Content-Type`,
    `Content-Disposition: attachment` (the filename, RFC 6266 / RFC 8187 for
    names beyond ASCII) and `ETag` = its SHA-256.

    `Range: bytes=first-last` (one range; `first-` and `-suffix` too) answers 206
    with `Content-Range`; a range beyond the end answers 416. `If-Range` and
    `If-None-Match` (304) work with the ETag.
    """
    return await _content(document_id, request, session, principal, with_body=True)


@router.head("/{document_id}/content", **_CONTENT_DOC)
async def head_document_content(
    document_id: uuid.UUID, request: Request, session: SessionDep, principal: Reader
) -> Response:
    """The headers a GET of the bytes would answer (size, type, ETag, range), without them."""
    return await _content(document_id, request, session, principal, with_body=False)


async def _content(
    document_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: Reader,
    *,
    with_body: bool,
) -> Response:
    document = await service.get_document(
        session, document_id, organization_scope=principal.organization_id
    )
    etag = f'"{document.sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(document.filename),
        "Content-Type": content_type_header(document.media_type),
    }
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    if_range = request.headers.get("if-range")
    byte_range = None
    if if_range is None or if_range.strip() == etag:
        byte_range = requested_range(request.headers.get("range"), document.size)
    start, end, status_code = 0, document.size - 1, 200
    if byte_range is not None:
        start, end, status_code = byte_range.start, byte_range.end, 206
        headers["Content-Range"] = f"bytes {start}-{end}/{document.size}"
    headers["Content-Length"] = str(end - start + 1)
    if not with_body:
        return Response(status_code=status_code, headers=headers)
    body = service.iter_content(
        request.app.state.read_sessionmaker, document.id, start=start, end=end
    )
    return StreamingResponse(body, status_code=status_code, headers=headers)
