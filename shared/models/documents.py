"""Documents (signed copies, annexes, minutes) and their bytes.

A document belongs to one owner, named by ``owner_type`` and ``owner_id``
(an agreement, an engagement, ...): there is no foreign key to a polymorphic
owner, so the owner's delete calls ``shared.documents.service.delete_documents_of``
in its own transaction. The bytes live in their own table so that reading
metadata never loads them.
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base
from shared.models.mixins import VersionedResource


class Document(VersionedResource, Base):
    __tablename__ = "documents"

    owner_type: Mapped[str] = mapped_column(String(40), nullable=False)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    title: Mapped[str | None] = mapped_column(String(500))
    language: Mapped[str | None] = mapped_column(String(35))
    authentic: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    media_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)

    __table_args__ = (Index("ix_documents_owner", "owner_type", "owner_id"),)


class DocumentChunk(Base):
    """One slice of a document's bytes (bytea on PostgreSQL, BLOB on SQLite).

    Stored as fixed-size slices (``shared.documents.service.CHUNK_BYTES``, the
    last one shorter) so that neither an upload nor a download ever holds a
    whole document in memory, and a Range request reads only its slices.
    """

    __tablename__ = "document_chunks"

    document_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
