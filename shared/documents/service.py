"""Document use cases. Functions flush; the request boundary commits.

The bytes are written as slices (:data:`CHUNK_BYTES`) in the same transaction
as the metadata, so a document is never half-written, and read back a slice
at a time, so no request holds a whole document in memory. Events carry the
metadata only, never the bytes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.documents.owners import OWNER_KINDS, Owner, documents_visible_to
from shared.documents.schemas import DocumentCreate, DocumentUpdate, document_as_public
from shared.errors import InvalidReference, NotFound
from shared.events import Actor, record_change
from shared.ids import uuid7
from shared.models import Amendment, Document, DocumentChunk
from shared.rows import one_or_404, rows_after

CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class ReceivedContent:
    """Bytes received and checked by the edge: spooled, measured, hashed, typed."""

    file: IO[bytes]
    filename: str
    media_type: str
    size: int
    sha256: str


async def find_owner(
    session: AsyncSession,
    owner_type: str,
    owner_id: uuid.UUID,
    *,
    organization_scope: uuid.UUID | None,
    loc: tuple[str, ...] = ("body", "owner_id"),
) -> Owner:
    """The owner a document is attached to; 422 when there is none the caller sees."""
    kind = OWNER_KINDS.get(owner_type)
    if kind is None:
        raise InvalidReference(
            f"Documents cannot be attached to a {owner_type} (yet); "
            f"owner_type is one of {', '.join(sorted(OWNER_KINDS))}.",
            errors=[{"loc": [loc[0], "owner_type"], "msg": "unsupported owner type"}],
        )
    owner = await kind.find(session, owner_id, organization_scope)
    if owner is None:
        raise InvalidReference(
            f"No {owner_type} with id {owner_id}.",
            errors=[{"loc": list(loc), "msg": f"no such {owner_type}"}],
        )
    return owner


async def _aggregate_of(session: AsyncSession, document: Document) -> Any:
    kind = OWNER_KINDS[document.owner_type]
    owner = await kind.find(session, document.owner_id, None)
    if owner is None:  # pragma: no cover - owners delete their documents first
        raise NotFound(f"The owner of document {document.id} no longer exists.")
    return owner.aggregate


async def get_document(
    session: AsyncSession,
    document_id: uuid.UUID,
    *,
    organization_scope: uuid.UUID | None = None,
    for_update: bool = False,
) -> Document:
    """The document's metadata; 404 also when the caller may not see its owner."""
    query = select(Document).where(Document.id == document_id)
    condition = documents_visible_to(organization_scope)
    if condition is not None:
        query = query.where(condition)
    missing = f"Document {document_id} does not exist."
    return await one_or_404(session, query, missing=missing, lock=Document if for_update else None)


async def list_documents(
    session: AsyncSession,
    *,
    after: uuid.UUID | None,
    limit: int,
    organization_scope: uuid.UUID | None,
    owner_type: str | None = None,
    owner_id: uuid.UUID | None = None,
    kind: str | None = None,
) -> list[Document]:
    """Up to ``limit + 1`` documents after ``after``, in upload order."""
    query = select(Document)
    condition = documents_visible_to(organization_scope)
    if condition is not None:
        query = query.where(condition)
    if owner_type:
        query = query.where(Document.owner_type == owner_type)
    if owner_id:
        query = query.where(Document.owner_id == owner_id)
    if kind:
        query = query.where(Document.kind == kind)
    return await rows_after(session, query, Document.id, after=after, limit=limit)


async def add_document(
    session: AsyncSession,
    *,
    actor: Actor,
    owner: Owner,
    payload: DocumentCreate,
    content: ReceivedContent,
) -> Document:
    """Store the metadata and the bytes (read from ``content.file`` a slice at a time)."""
    document = Document(
        id=uuid7(),
        owner_type=owner.type,
        owner_id=owner.id,
        kind=payload.kind,
        title=payload.title,
        language=payload.language,
        authentic=payload.authentic,
        filename=content.filename,
        media_type=content.media_type,
        size=content.size,
        sha256=content.sha256,
    )
    session.add(document)
    await session.flush()
    content.file.seek(0)
    position = 0
    while data := content.file.read(CHUNK_BYTES):
        await session.execute(
            DocumentChunk.__table__.insert().values(
                document_id=document.id, position=position, data=data
            )
        )
        position += 1
    await record_change(
        session,
        actor=actor,
        event_type="document.added",
        aggregate=owner.aggregate,
        entity_id=document.id,
        before=None,
        after=document_as_public(document),
    )
    return document


async def update_document(
    session: AsyncSession, *, actor: Actor, document: Document, payload: DocumentUpdate
) -> Document:
    changes = payload.changes()
    if not changes:
        return document
    before = document_as_public(document)
    for field, value in changes.items():
        setattr(document, field, value)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="document.updated",
        aggregate=await _aggregate_of(session, document),
        entity_id=document.id,
        before=before,
        after=document_as_public(document),
    )
    return document


async def delete_document(session: AsyncSession, *, actor: Actor, document: Document) -> None:
    """Delete the document and its bytes (the slices go by ON DELETE CASCADE)."""
    aggregate = await _aggregate_of(session, document)
    before = document_as_public(document)
    await session.delete(document)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="document.deleted",
        aggregate=aggregate,
        entity_id=document.id,
        before=before,
        after=None,
    )


async def delete_documents_of(
    session: AsyncSession, *, actor: Actor, owner_type: str, owner_id: uuid.UUID
) -> None:
    """Delete every document of an owner, each with its event; the owner's delete
    calls this in its own transaction, before deleting itself."""
    owned = (Document.owner_type == owner_type) & (Document.owner_id == owner_id)
    if owner_type == "agreement":
        # Its amendments go with it (ON DELETE CASCADE), and so must theirs.
        owned = owned | (
            (Document.owner_type == "amendment")
            & Document.owner_id.in_(select(Amendment.id).where(Amendment.agreement_id == owner_id))
        )
    documents = (
        await session.scalars(select(Document).where(owned).order_by(Document.id).with_for_update())
    ).all()
    for document in documents:
        await delete_document(session, actor=actor, document=document)


async def iter_content(
    sessionmaker: async_sessionmaker[AsyncSession] | Callable[[], Any],
    document_id: uuid.UUID,
    *,
    start: int,
    end: int,
) -> AsyncIterator[bytes]:
    """Yield the bytes ``start..end`` (inclusive) of a document, a slice at a time.

    Runs after the request's own session has closed (while the response
    streams), so it opens sessions of its own. A document deleted meanwhile
    ends the stream with an error rather than with bytes missing.
    """
    first, last = start // CHUNK_BYTES, end // CHUNK_BYTES
    for position in range(first, last + 1):
        # A short session per slice: on SQLite a transaction holds the
        # database lock, which a slow client must not keep.
        async with sessionmaker() as session:
            data = await session.scalar(
                select(DocumentChunk.data).where(
                    DocumentChunk.document_id == document_id, DocumentChunk.position == position
                )
            )
        if data is None:
            raise NotFound(f"Document {document_id} was deleted while it was being read.")
        offset = position * CHUNK_BYTES
        yield bytes(data[max(start - offset, 0) : end - offset + 1])
