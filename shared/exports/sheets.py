"""Spreadsheet exports: every row a key may see, as CSV or XLSX, streamed.

A resource's rows come from its own list use case (the same filters and
visibility as its list route), a page at a time; each page after the first
reads in its own short session. CSV is written a page at a time with the
standard library's ``csv``; XLSX with openpyxl's write-only mode, which
keeps rows in a temporary file rather than in memory, then streams the
finished workbook from disk.
"""

from __future__ import annotations

import asyncio
import csv
import io
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from shared.exports.cells import cell, csv_cell

PAGE_SIZE = 500
CHUNK_BYTES = 64 * 1024

ListRows = Callable[..., Awaitable[list[Any]]]


@dataclass(frozen=True)
class Sheet:
    """One exportable resource: its list use case and its public schema."""

    name: str
    list_rows: ListRows
    public: type[BaseModel]

    @property
    def columns(self) -> list[str]:
        return [field.alias or name for name, field in self.public.model_fields.items()]

    def row(self, record: Any) -> list[Any]:
        values = self.public.model_validate(record).model_dump(by_alias=True)
        return [values[column] for column in self.columns]


async def first_page(sheet: Sheet, session: AsyncSession, filters: dict[str, Any]) -> list[Any]:
    """The first page's records, read in the request's session (so that a
    failure is still a problem answer, and no session outlives the request)."""
    return await sheet.list_rows(session, after=None, limit=PAGE_SIZE, **filters)


async def rows_of(
    sheet: Sheet,
    first: list[Any],
    sessionmaker: Callable[[], Any],
    filters: dict[str, Any],
) -> AsyncIterator[list[list[Any]]]:
    """Every visible row, a page at a time, in creation order (keyset on id);
    each page after ``first`` reads in its own short session."""
    records = first
    while True:
        page = records[:PAGE_SIZE]
        if page:
            yield [sheet.row(record) for record in page]
        if len(records) <= PAGE_SIZE:
            return
        async with sessionmaker() as session:
            records = await sheet.list_rows(session, after=page[-1].id, limit=PAGE_SIZE, **filters)


async def csv_stream(
    columns: list[str], pages: AsyncIterator[list[list[Any]]]
) -> AsyncIterator[bytes]:
    """UTF-8 CSV with a header row, one chunk per page."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    async for page in pages:
        writer.writerows([csv_cell(value) for value in row] for row in page)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


async def xlsx_stream(
    title: str, columns: list[str], pages: AsyncIterator[list[list[Any]]]
) -> AsyncIterator[bytes]:
    """An XLSX workbook of one sheet: rows spill to disk, then the file streams."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(title)
    worksheet.append(columns)
    async for page in pages:
        for row in page:
            worksheet.append([cell(value) for value in row])
    with tempfile.TemporaryFile() as file:
        await asyncio.to_thread(workbook.save, file)
        file.seek(0)
        while chunk := await asyncio.to_thread(file.read, CHUNK_BYTES):
            yield chunk
