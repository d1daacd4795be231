"""How the use cases read rows, written once: one row by id, a page of a list,
and the ``q`` text filter of the lists.

Every ``get_*`` of a use case asks for a row by id under the caller's
visibility (404 when it is missing *or* not visible, so a bound key learns
nothing of what it may not see), and, for a change, locks it first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import NotFound


async def one_or_404(
    session: AsyncSession, query: Select[Any], *, missing: str, lock: Any = None
) -> Any:
    """The one row ``query`` selects, else :class:`NotFound` with ``missing`` as its detail.

    With ``lock`` (the entity whose row to lock), the row is read ``FOR UPDATE``
    of that table only and afresh, not as the session already holds it: what
    the change checks is what is committed.
    """
    if lock is not None:
        query = query.with_for_update(of=lock).execution_options(populate_existing=True)
    row = (await session.scalars(query)).one_or_none()
    if row is None:
        raise NotFound(missing)
    return row


def page_after(query: Select[Any], key: Any, *, after: Any, limit: int) -> Select[Any]:
    """A page of ``query`` in ``key`` order: up to ``limit + 1`` rows after the cursor ``after``.

    The one row more tells the edge that a next page exists
    (the HTTP edge's ``paginate`` drops it and makes the next cursor).
    """
    if after is not None:
        query = query.where(key > after)
    return query.order_by(key).limit(limit + 1)


async def rows_after(
    session: AsyncSession, query: Select[Any], key: Any, *, after: Any, limit: int
) -> list[Any]:
    """The entities of :func:`page_after`'s page."""
    return list((await session.scalars(page_after(query, key, after=after, limit=limit))).all())


def text_in(q: str, *columns: Any) -> ColumnElement[bool]:
    """``q`` is part of one of ``columns``, ignoring case; taken literally (a ``%`` or
    ``_`` in it matches itself, not any text)."""
    needle = q.lower()
    return or_(*(func.lower(column).contains(needle, autoescape=True) for column in columns))
