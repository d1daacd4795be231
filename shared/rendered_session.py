"""The session that keeps rendered JSON (:mod:`shared.rendered`) in step with its writes.

:class:`RenderingSession` is the class of every session factory (made so in
:mod:`shared.db`): each flush notes the rows of each :class:`~shared.rendered.Kind`
its objects change, and the commit renders them from the database as it
stands in that transaction, with the same pydantic model the API serializes,
before the COMMIT. A row the transaction inserted and left alone since is
rendered from the object it inserted, without loading it again (a create
costs no reads for its body); at any doubt it is loaded. A row of a kind
whose JSON is its own columns alone (milestones, initiatives), updated
through its object, gets its body in that UPDATE itself, rendered at the
version the UPDATE gives it (:meth:`RenderingSession._fold`): one statement
per change, not two. A rollback forgets them. So a reader sees the new body
exactly when it sees the new row: read-your-writes for the writer, nothing
stale after commit. Sessions that commit each statement on their own
(autocommit) render after each flush, which is their commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.rendered import KINDS, Kind
from shared.statements import run_many_in_sync

_TOUCHED = "accords.rendered.touched"
_FRESH = "accords.rendered.fresh"
_STORE = {kind.name: kind.store_statement() for kind in KINDS}
# The kinds whose updated rows get their body in their own UPDATE, by model:
# how to render one at a version, and the column attributes its body is made
# of (all but the body itself: deferred, never loaded to write it).
_FOLDING = {
    kind.model: (kind.public_at, frozenset(inspect(kind.model).column_attrs.keys()) - {"rendered"})
    for kind in KINDS
    if kind.public_at is not None and kind.from_updates
}


@dataclass
class _Fresh:
    """A row written by one flush of this transaction, with what that flush wrote of it."""

    row: Any
    others: list[object]


def fresh_rows(session: Session, kind: Kind, ids: set[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The rows among ``ids`` whose written object still says all of their JSON.

    Such a row was inserted by one flush of this transaction, no later flush
    touched it, and whatever else that flush wrote of it is among the objects
    its JSON reads through it (an agreement's new parties are in its
    ``parties``). Or, for a kind that allows it (:attr:`Kind.from_updates`),
    its object was the last to write it, inserting or updating. Its object is
    then the row as stored: every default and ``onupdate`` is set in Python
    before the statement, so no column has a value the object does not (and
    an attribute expired since is loaded again when read); an updated row's
    other columns are as read, since its versioned UPDATE would have failed
    had anyone changed the row since. Rows are changed through their objects
    only (see :mod:`shared.rendered`).
    """
    fresh: dict[uuid.UUID, _Fresh] = session.info.get(_FRESH, {}).get(kind.name, {})
    found = {}
    for key in ids & fresh.keys():
        entry = fresh[key]
        state = inspect(entry.row)
        if state.was_deleted or state.detached:
            continue
        members = [id(member) for member in kind.members(entry.row)]
        if any(id(other) not in members for other in entry.others):
            continue
        found[key] = entry.row
    return found


class RenderingSession(Session):
    """A Session that keeps the rendered JSON of what it writes in step."""

    def flush(self, objects: Any = None) -> None:
        new = list(self.new)
        dirty = list(self.dirty)
        changed = [*dirty, *self.deleted]
        folded = self._fold(dirty) if objects is None else set()
        super().flush(objects)
        if new or changed:
            self._note(new, changed, dirty, folded)
            if self._commits_each_statement():
                refresh(self)

    def _fold(self, dirty: list[object]) -> set[int]:
        """Give each updated row of a kind with :attr:`Kind.public_at` its body
        in its own UPDATE (no second statement at commit); the ``id()`` of those
        objects.

        Only where the object says all of the row: each column loaded, and
        changed columns really changed (an object merely marked dirty is not
        updated, and must not be made so). Its version is the one the versioned
        UPDATE is about to give it; its ``updated_at``, when the change did not
        set it, is set here to what the column's ``onupdate`` would have put.
        """
        folded: set[int] = set()
        for instance in dirty:
            folding = _FOLDING.get(type(instance))
            if folding is None:
                continue
            public_at, columns = folding
            state = inspect(instance)
            if state.unloaded & columns or not self.is_modified(
                instance, include_collections=False
            ):
                continue
            if not state.attrs.updated_at.history.added:
                instance.updated_at = utcnow()  # type: ignore[attr-defined]
            instance.rendered = public_at(instance, instance.version + 1)  # type: ignore[attr-defined]
            folded.add(id(instance))
        return folded

    def commit(self) -> None:
        if self.info.get(_TOUCHED) or self.new or self.dirty or self.deleted:
            self.flush()
            refresh(self)
        super().commit()

    def rollback(self) -> None:
        self.info.pop(_TOUCHED, None)
        self.info.pop(_FRESH, None)
        super().rollback()

    def _note(
        self, new: list[object], changed: list[object], dirty: list[object], folded: set[int]
    ) -> None:
        # Ids are read after the flush: a new row's id is given on insert.
        new_ids = {id(instance) for instance in new}
        written_ids = new_ids | {id(instance) for instance in dirty}
        for kind in KINDS:
            by_id: dict[uuid.UUID, list[object]] = {}
            for instance in (*new, *changed):
                found = kind.touched_by(instance)
                if found is not None:
                    by_id.setdefault(found, []).append(instance)
            if not by_id:
                continue  # nothing of this kind: no entry, so a commit has none to render
            touched = self.info.setdefault(_TOUCHED, {}).setdefault(kind.name, set())
            fresh = self.info.setdefault(_FRESH, {}).setdefault(kind.name, {})
            written = written_ids if kind.from_updates else new_ids
            for key, instances in by_id.items():
                if all(id(one) in folded for one in instances):
                    # Its UPDATE wrote its body: nothing left to render for it.
                    touched.discard(key)
                    fresh.pop(key, None)
                    continue
                row = next(
                    (one for one in instances if type(one) is kind.model and id(one) in written),
                    None,
                )
                if row is not None and (
                    kind.from_updates or (key not in touched and key not in fresh)
                ):
                    # Written now: strongly held, the identity map only holds it weakly.
                    fresh[key] = _Fresh(row, [one for one in instances if one is not row])
                else:
                    fresh.pop(key, None)
                touched.add(key)

    def _commits_each_statement(self) -> bool:
        bind = self.get_bind()
        return bind.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def refresh(session: Session) -> None:
    """Rewrite the bodies of the rows this transaction touched (sync, in-session)."""
    touched: dict[str, set[uuid.UUID]] | None = session.info.pop(_TOUCHED, None)
    try:
        if touched:
            _store(session, touched)
    finally:
        session.info.pop(_FRESH, None)


def _store(session: Session, touched: dict[str, set[uuid.UUID]]) -> None:
    for kind in KINDS:
        ids = touched.get(kind.name)
        if not ids:
            continue
        bodies = _render(session, kind, ids)
        if bodies:
            run_many_in_sync(
                session,
                _STORE[kind.name],
                [{"rendered_id": key, "rendered_body": body} for key, body in bodies.items()],
            )


def _render(session: Session, kind: Kind, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The JSON of each row of ``kind`` among ``ids``, as stored now in the transaction.

    A row this transaction inserted and nothing changed since is rendered
    from the object that was inserted (:func:`fresh_rows`); any other is
    loaded again, collections changed through other objects included.
    """
    fresh = fresh_rows(session, kind, ids) if kind.from_memory else {}
    bodies = {key: kind.public(row) for key, row in fresh.items()}
    rest = ids - bodies.keys()
    if rest:
        rows = session.scalars(kind.load_statement, {"ids": list(rest)}).all()
        bodies.update((getattr(row, kind.key.key), kind.public(row)) for row in rows)
    return bodies
