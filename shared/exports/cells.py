"""Spreadsheet cells from API values: pure functions, no I/O.

Dates and timestamps as ISO 8601 text; lists joined with ``; ``; an object
(``{"ref", "text"}``, ``{"organization_id", "role"}``, ``{"value", "on"}``)
as its values joined with ``: ``. Text that a spreadsheet would run as a
formula (starting with ``=``, ``+``, ``-``, ``@``, or a tab or carriage
return, OWASP's list) is prefixed with ``'`` so that it stays text.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = "; "


def escape_formula(text: str) -> str:
    """``text`` made inert for spreadsheets (``=1+1`` becomes ``'=1+1``)."""
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return ": ".join(_plain(part) for part in value.values() if part is not None)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date | uuid.UUID):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def cell(value: Any) -> str | int | float | None:
    """One cell: numbers stay numbers, everything else is (escaped) text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, list | tuple):
        return escape_formula(LIST_SEPARATOR.join(_plain(item) for item in value))
    return escape_formula(_plain(value))


def csv_cell(value: Any) -> str:
    """A CSV field: the cell as text, empty for null."""
    rendered = cell(value)
    return "" if rendered is None else str(rendered)
