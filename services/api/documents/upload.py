"""Reading a `multipart/form-data` upload as it streams in.

The `file` part goes to a spooled temporary file (memory up to
:data:`SPOOL_MEMORY_BYTES`, then disk) while it is counted, hashed and
inspected; past the document limit the upload stops at once with 413, so
neither an oversized upload nor an accepted one is ever held whole in memory.
The other parts are the small text fields of the metadata.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from shared.documents.media_types import ContentInspector
from shared.errors import ContentTooLarge, DomainError, UnsupportedMediaType

SPOOL_MEMORY_BYTES = 1024 * 1024
MAX_FIELD_BYTES = 8192
MAX_HEADER_BYTES = 8192
MAX_PARTS = 20
# Room in the request body for the metadata fields and part headers.
MULTIPART_OVERHEAD_BYTES = 256 * 1024


class MalformedUpload(DomainError):
    status = 400
    type_slug = "malformed-multipart"
    title = "Malformed multipart body"


class InvalidUpload(DomainError):
    status = 422
    type_slug = "validation-error"
    title = "Validation error"


@dataclass
class ReceivedFile:
    file: IO[bytes]
    filename: str | None
    declared_type: str | None
    size: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    inspector: ContentInspector = field(default_factory=ContentInspector)


@dataclass
class Upload:
    fields: dict[str, str]
    file: ReceivedFile | None


class _Receiver:
    """The parser's callbacks: one part at a time, headers then data."""

    def __init__(self, max_file_bytes: int) -> None:
        self.max_file_bytes = max_file_bytes
        self.fields: dict[str, str] = {}
        self.file: ReceivedFile | None = None
        self.errors: list[dict[str, Any]] = []
        self.ended = False
        self._parts = 0
        self._headers: list[tuple[bytearray, bytearray]] = []
        self._header_bytes = 0
        self._name: str | None = None
        self._value = bytearray()
        self._into_file = False

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise MalformedUpload(f"An upload has at most {MAX_PARTS} parts.")
        self._headers = [(bytearray(), bytearray())]
        self._header_bytes = 0
        self._name, self._value, self._into_file = None, bytearray(), False

    def _count_header(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            raise MalformedUpload("The headers of a part are too long.")

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._headers[-1][0].extend(data[start:end])

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._headers[-1][1].extend(data[start:end])

    def on_header_end(self) -> None:
        self._headers.append((bytearray(), bytearray()))

    def on_headers_finished(self) -> None:
        headers = {bytes(k).decode("latin-1").lower(): bytes(v) for k, v in self._headers if k}
        _disposition, options = parse_options_header(
            headers.get("content-disposition", b"").decode("latin-1")
        )
        name = _text(options.get(b"name"))
        if name is None:
            raise MalformedUpload("Every part needs a Content-Disposition header with a name.")
        self._name = name
        if name == "file":
            if self.file is not None:
                self.errors.append({"loc": ["body", "file"], "msg": "only one file per upload"})
                return
            declared, _ = parse_options_header(headers.get("content-type", b"").decode("latin-1"))
            self.file = ReceivedFile(
                file=tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES),  # noqa: SIM115
                filename=_text(options.get(b"filename")),
                declared_type=declared.decode("latin-1") or None,
            )
            self._into_file = True
        elif name in self.fields:
            self.errors.append({"loc": ["body", name], "msg": "given more than once"})

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._into_file:
            received = self.file
            assert received is not None
            received.size += len(chunk)
            if received.size > self.max_file_bytes:
                raise ContentTooLarge(
                    f"The file is larger than the limit of {self.max_file_bytes} bytes."
                )
            received.file.write(chunk)
            received.digest.update(chunk)
            received.inspector.feed(chunk)
            return
        self._value.extend(chunk)
        if len(self._value) > MAX_FIELD_BYTES:
            raise InvalidUpload(
                f"The form field {self._name!r} is longer than {MAX_FIELD_BYTES} bytes.",
                errors=[{"loc": ["body", self._name], "msg": "too long"}],
            )

    def on_part_end(self) -> None:
        if self._into_file:
            assert self.file is not None
            self.file.inspector.finish()
        elif self._name is not None and self._name not in self.fields:
            try:
                self.fields[self._name] = bytes(self._value).decode("utf-8")
            except UnicodeDecodeError:
                self.errors.append({"loc": ["body", self._name], "msg": "not valid UTF-8"})

    def on_end(self) -> None:
        self.ended = True


def _text(raw: bytes | None) -> str | None:
    """A header parameter: the bytes as sent (UTF-8 by RFC 7578), as text."""
    if raw is None:
        return None
    return raw.decode("utf-8", errors="replace")


def _boundary(request: Request) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data":
        raise UnsupportedMediaType("Send the document as multipart/form-data.")
    boundary = options.get(b"boundary")
    if not boundary:
        raise MalformedUpload("The multipart Content-Type has no boundary.")
    return boundary


async def receive_upload(request: Request, *, max_file_bytes: int) -> Upload:
    """Parse the request body as it arrives; 413 as soon as the file passes the limit."""
    declared = request.headers.get("content-length")
    if (
        declared
        and declared.isdigit()
        and int(declared) > max_file_bytes + MULTIPART_OVERHEAD_BYTES
    ):
        raise ContentTooLarge(f"The file is larger than the limit of {max_file_bytes} bytes.")
    receiver = _Receiver(max_file_bytes)
    parser = MultipartParser(_boundary(request), receiver.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        _discard(receiver)
        raise MalformedUpload(f"The multipart body cannot be parsed: {exc}") from exc
    except BaseException:
        _discard(receiver)
        raise
    if not receiver.ended:
        _discard(receiver)
        raise MalformedUpload("The multipart body ends before its closing boundary.")
    if receiver.errors:
        _discard(receiver)
        raise InvalidUpload(
            "The upload does not match the form; see 'errors'.", errors=receiver.errors
        )
    return Upload(fields=receiver.fields, file=receiver.file)


def _discard(receiver: _Receiver) -> None:
    if receiver.file is not None:
        receiver.file.file.close()


def safe_filename(filename: str | None, *, extension: str) -> str:
    """The name to store: the last path segment, without control characters or
    quotes, at most 255 characters; `document.<ext>` when nothing is left."""
    name = os.path.basename((filename or "").replace("\\", "/"))
    name = "".join(char for char in name if char.isprintable() and char != '"').strip()
    if name in ("", ".", ".."):
        return f"document.{extension}"
    if len(name) > 255:
        stem, dot, suffix = name.rpartition(".")
        name = (
            (stem[: 254 - len(suffix)] + dot + suffix) if dot and len(suffix) < 20 else name[:255]
        )
    return name
