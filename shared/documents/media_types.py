"""What a document's bytes are, decided from the bytes (never from the client).

Pure rules: :class:`ContentInspector` sees the bytes as they stream in and
:func:`media_type_of` names the type from what it saw. Binary formats are
recognised by their signature (the `filetype` library, which also looks into
the first ZIP entries to tell DOCX, XLSX and ODT from any ZIP); whatever has no
signature is text when it is valid UTF-8 without a NUL byte. Text is CSV when
the client called it CSV (by its filename or part type): the bytes cannot
tell a comma-separated line from a sentence with commas, and both are text.
"""

from __future__ import annotations

import codecs

import filetype

# The signature matchers look at the first 8 KiB (as filetype itself reads).
HEAD_BYTES = 8192

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
TEXT = "text/plain"
CSV = "text/csv"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"

ACCEPTED: tuple[str, ...] = (PDF, PNG, JPEG, TEXT, CSV, DOCX, XLSX, ODT)
TEXT_TYPES = (TEXT, CSV)
EXTENSIONS = {
    PDF: "pdf",
    PNG: "png",
    JPEG: "jpg",
    TEXT: "txt",
    CSV: "csv",
    DOCX: "docx",
    XLSX: "xlsx",
    ODT: "odt",
}


class ContentInspector:
    """Keeps the head of the bytes and whether they are all NUL-free UTF-8."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.is_text = True
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def feed(self, data: bytes) -> None:
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        if self.is_text:
            if b"\x00" in data:
                self.is_text = False
                return
            try:
                self._decoder.decode(data)
            except UnicodeDecodeError:
                self.is_text = False

    def finish(self) -> None:
        if self.is_text:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.is_text = False


def media_type_of(
    inspector: ContentInspector, *, filename: str | None, declared_type: str | None
) -> str | None:
    """The accepted media type of the bytes, or None when they are none of them."""
    kind = filetype.guess(bytes(inspector.head))
    if kind is not None:
        return kind.mime if kind.mime in ACCEPTED else None
    if not inspector.is_text or not inspector.head:
        return None
    said_csv = (filename or "").lower().endswith(".csv") or (declared_type or "").lower() in (
        CSV,
        "application/csv",
    )
    return CSV if said_csv else TEXT


def content_type_header(media_type: str) -> str:
    """The Content-Type a download is served with."""
    return f"{media_type}; charset=utf-8" if media_type in TEXT_TYPES else media_type
