"""Write an ``iati-activities`` document as a stream of bytes.

``lxml.etree.xmlfile`` writes the envelope incrementally; each activity is
built as a small element tree, written and dropped, so memory holds one
batch of agreements at a time however many the document carries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterable, AsyncIterator

from lxml import etree

from shared.iati.activities import IATI_VERSION, build_activities
from shared.iati.facts import AgreementFacts, ExportContext


class _Chunks:
    """The file-like sink ``xmlfile`` writes to; the stream takes what piled up."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._parts.append(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


async def stream_document(
    batches: AsyncIterable[list[AgreementFacts]],
    context: ExportContext,
    *,
    generated_at: dt.datetime | None = None,
) -> AsyncIterator[bytes]:
    """The document's bytes, one chunk per batch of agreements."""
    generated_at = (generated_at or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    sink = _Chunks()
    with etree.xmlfile(sink, encoding="utf-8") as document:
        document.write_declaration()
        attributes = {"version": IATI_VERSION, "generated-datetime": generated_at.isoformat()}
        with document.element("iati-activities", attributes):
            async for batch in batches:
                for agreement in batch:
                    for activity in build_activities(agreement, context):
                        document.write(activity, pretty_print=True)
                document.flush()
                yield sink.take()
    yield sink.take()


async def render_document(agreements: list[AgreementFacts], context: ExportContext) -> bytes:
    """The whole document at once (one agreement, tests, the CLI)."""

    async def one_batch() -> AsyncIterator[list[AgreementFacts]]:
        yield agreements

    return b"".join([chunk async for chunk in stream_document(one_batch(), context)])
