"""HTTP mechanics of a document download: Range (RFC 9110 §14) and
Content-Disposition (RFC 6266, with the RFC 8187/5987 `filename*` form)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

from shared.errors import DomainError

_SINGLE_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class RangeNotSatisfiable(DomainError):
    status = 416
    type_slug = "range-not-satisfiable"
    title = "Range not satisfiable"


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def requested_range(header: str | None, size: int) -> ByteRange | None:
    """The one byte range asked for, or None to send the whole document.

    A header this server does not understand (another unit, several ranges,
    bad syntax) is ignored, as RFC 9110 allows: the answer is the whole
    document. A well-formed range outside the document answers 416.
    """
    if header is None:
        return None
    match = _SINGLE_RANGE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the final N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(size)
        return ByteRange(max(size - suffix, 0), size - 1)
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None  # invalid: ignored
    if start >= size:
        raise _unsatisfiable(size)
    return ByteRange(start, end)


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"The document has {size} bytes; the requested range lies outside them.",
        headers={"Content-Range": f"bytes */{size}"},
    )


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII `filename` fallback and, for any other name,
    the exact UTF-8 name in `filename*`."""
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    fallback = "".join(char for char in fallback if char.isprintable() and char not in '"\\')
    fallback = fallback.strip() or "document"
    header = f'attachment; filename="{fallback}"'
    if fallback != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match / If-Range header names this ETag (or `*`)."""
    if header is None:
        return False
    candidates = [part.strip() for part in header.split(",")]
    return "*" in candidates or etag in candidates or f"W/{etag}" in candidates
