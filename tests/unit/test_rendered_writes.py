"""Stored JSON cannot fall behind: no code updates a rendered table behind the ORM's back."""

from __future__ import annotations

import re
from pathlib import Path

from shared.rendered import KINDS

ROOT = Path(__file__).resolve().parents[2]
_NAMES = "|".join(kind.model.__name__ for kind in KINDS)
_TABLES = "|".join(kind.table.name for kind in KINDS)
_BULK = re.compile(rf"\bupdate\(\s*({_NAMES})\b|\bUPDATE\s+({_TABLES})\b", re.IGNORECASE)


def bulk_updates(text: str) -> list[int]:
    """Line numbers of bulk UPDATEs of a rendered table (Core, ORM-enabled or SQL)."""
    return [number for number, line in enumerate(text.splitlines(), 1) if _BULK.search(line)]


def test_no_bulk_update_of_a_rendered_table_outside_shared_rendered() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("shared", "services")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != ROOT / "shared" / "rendered.py"
        for number in bulk_updates(path.read_text())
    ]
    assert found == []


def test_the_check_finds_each_way_of_writing_one() -> None:
    written = [
        "await session.execute(update(Initiative).values(status='done'))",
        "statement = update( Agreement ).where(Agreement.id == key)",
        'await connection.execute("UPDATE agreement_rollups SET health = $1")',
    ]
    assert bulk_updates("\n".join(written)) == [1, 2, 3]
    assert bulk_updates("update(Engagement).values(status='done')") == []
