"""Pure rules of documents: byte ranges, Content-Disposition, media types, the demo PDF."""

from __future__ import annotations

import re

import pytest

from services.api.documents.download import (
    ByteRange,
    RangeNotSatisfiable,
    content_disposition,
    requested_range,
)
from services.demo_records import minimal_pdf
from shared.documents.media_types import ContentInspector, media_type_of


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=100-", ByteRange(100, 999)),
        ("bytes=-100", ByteRange(900, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("bytes=990-5000", ByteRange(990, 999)),
        ("bytes=0-1,3-4", None),
        ("bytes=5-1", None),
        ("pages=1-2", None),
        (None, None),
    ],
)
def test_requested_range(header, expected) -> None:
    assert requested_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-1001", "bytes=-0"])
def test_a_range_outside_the_document_is_unsatisfiable(header) -> None:
    with pytest.raises(RangeNotSatisfiable):
        requested_range(header, 1000)


def test_an_ascii_filename_has_no_extended_form() -> None:
    assert content_disposition("mou.pdf") == 'attachment; filename="mou.pdf"'


def test_a_non_ascii_filename_gets_a_fallback_and_the_utf8_form() -> None:
    assert content_disposition("Memorándum.pdf") == (
        "attachment; filename=\"Memorandum.pdf\"; filename*=UTF-8''Memor%C3%A1ndum.pdf"
    )


def _inspect(content: bytes) -> ContentInspector:
    inspector = ContentInspector()
    for start in range(0, len(content), 7):  # in small pieces, as it streams
        inspector.feed(content[start : start + 7])
    inspector.finish()
    return inspector


def test_utf8_split_across_pieces_is_still_text() -> None:
    inspector = _inspect("谅解备忘录".encode() * 3)

    assert media_type_of(inspector, filename="a.txt", declared_type=None) == "text/plain"


def test_text_is_csv_when_the_client_calls_it_csv() -> None:
    inspector = _inspect(b"a,b\n1,2\n")

    assert media_type_of(inspector, filename="data", declared_type="text/csv") == "text/csv"


def test_the_demo_pdf_has_a_correct_cross_reference_table() -> None:
    pdf = minimal_pdf(["Signed (copy)"])
    xref_at = int(re.search(rb"startxref\n(\d+)\n", pdf).group(1))
    offsets = [int(offset) for offset in re.findall(rb"(\d{10}) 00000 n", pdf)]

    assert pdf[xref_at:].startswith(b"xref")
    assert [pdf[offset:].split(b" ")[0] for offset in offsets] == [b"1", b"2", b"3", b"4", b"5"]
    assert media_type_of(_inspect(pdf), filename=None, declared_type=None) == "application/pdf"
