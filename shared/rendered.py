"""Rendered JSON: a resource's public JSON, kept with its row, rewritten by every write.

A read of a rendered resource is one indexed read of the bytes the API
answers, without building a model or validating anything: a page of 50 is
the 50 stored bodies joined. To stay consistent with every committed write,
the bodies are rewritten in the writing transaction itself, by the session
class of every session factory (:class:`RenderingSession`, made the sessions'
class in :mod:`shared.db`): each flush notes the rows of each :class:`Kind`
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

Rows written before rendering existed (or by a migration) have no body:
readers render those on the spot (``None`` from the rendered reads).

Rendered: agreements (their parties included) and their history, initiatives,
milestones, and
the stored rollups of agreements and initiatives. A milestone's ``overdue``
moves with the date without a write: it is stored false, and readers put in
the day's value (:func:`milestone_with_overdue`, from the same SQL condition
the ``overdue`` filter uses). Other resources whose JSON moves with the date
(a report's ``overdue``) are not stored yet. Writes must go through ORM objects (a bulk
Core UPDATE of a rendered table would leave its bodies behind); none does. Writes made
as rows carry their body in the same statement, rendered from the same public model:
an agreement's create (:func:`shared.agreements.service.create_agreement`, by
:func:`dump`) and the worker's rollup recompute (:func:`shared.rollups.store.recompute_all_locked`,
by :func:`rollup_json`, the body stored in :func:`in_jsonb_order`).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter
from sqlalchemy import Table, bindparam, inspect, select, update
from sqlalchemy.orm import Session, selectinload

from shared.agreements.schemas import AgreementPublic, StatusChangePublic
from shared.clock import utcnow
from shared.initiatives.schemas import InitiativePublic
from shared.milestones.schemas import MilestonePublic
from shared.models import (
    Agreement,
    AgreementParty,
    AgreementRollup,
    AgreementStatusChange,
    Initiative,
    InitiativeRollup,
    Milestone,
)
from shared.rollups.schemas import AgreementRollupPublic, InitiativeRollupPublic
from shared.statements import run_many_in_sync

_TOUCHED = "accords.rendered.touched"
_FRESH = "accords.rendered.fresh"


def all_stored(rows: list[Any]) -> list[Any] | None:
    """Rows of (id, stored JSON) as they are; None if one has none yet (read them
    on the spot)."""
    return None if any(row[1] is None for row in rows) else rows


def dump(public: BaseModel) -> str:
    """A public model's JSON exactly as the API answers it."""
    return _adapter(type(public)).dump_json(public, by_alias=True).decode()


_ADAPTERS: dict[type[BaseModel], TypeAdapter[Any]] = {}


def _adapter(model: type[BaseModel]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter


def _no_members(_row: Any) -> tuple[object, ...]:
    return ()


@dataclass(frozen=True)
class Kind:
    """A table whose rows keep their public JSON in a ``rendered`` column."""

    name: str
    model: type[Any]
    # Which row of this kind a change of the ORM object touches, if any.
    touched_by: Callable[[object], uuid.UUID | None]
    # The column the touched ids are values of.
    key: Any
    # One row's public JSON.
    public: Callable[[Any], str]
    # Loader options for what ``public`` reads besides the row's columns.
    options: tuple[Any, ...] = ()
    # The objects of other tables ``public`` reads through the row (its parties).
    members: Callable[[Any], Iterable[object]] = _no_members
    # Whether a row this transaction inserted may be rendered from its object
    # (see :func:`_fresh_rows`). Not where the JSON holds a stored mapping:
    # PostgreSQL's jsonb gives its keys back in another order than they went in.
    from_memory: bool = True
    # One row's public JSON at the given version (the one its UPDATE is about
    # to give it): with it, a row updated through its object gets its body in
    # that same UPDATE (see :meth:`RenderingSession.flush`).
    public_at: Callable[[Any, int], str] | None = None

    @functools.cached_property
    def from_updates(self) -> bool:
        """Whether a row this transaction updated through its object may be rendered
        from that object too (see :func:`_fresh_rows`): a row whose JSON reads
        nothing through other objects, under optimistic concurrency (its UPDATE
        fails on a row changed since it was read, so the object holds the row)."""
        mapper = inspect(self.model)
        return (
            self.from_memory and self.members is _no_members and mapper.version_id_col is not None
        )

    @property
    def table(self) -> Table:
        return self.model.__table__  # type: ignore[no-any-return]

    def render(self, session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The JSON of each row, as stored now in the transaction.

        A row this transaction inserted and nothing changed since is rendered
        from the object that was inserted (:func:`_fresh_rows`); any other is
        loaded again, collections changed through other objects included.
        """
        fresh = _fresh_rows(session, self, ids) if self.from_memory else {}
        bodies = {key: self.public(row) for key, row in fresh.items()}
        rest = ids - bodies.keys()
        if rest:
            rows = session.scalars(self._load_statement, {"ids": list(rest)}).all()
            bodies.update((getattr(row, self.key.key), self.public(row)) for row in rows)
        return bodies

    @functools.cached_property
    def _load_statement(self) -> Any:
        """The rows to render, by ``ids``: built once (building it cost more than running it)."""
        return (
            select(self.model)
            .options(*self.options)
            .where(self.key.in_(bindparam("ids", expanding=True)))
            .execution_options(populate_existing=True)
        )

    def store_statement(self) -> Any:
        table = self.table
        key = next(iter(table.primary_key.columns))
        values: dict[str, Any] = {"rendered": bindparam("rendered_body")}
        if "updated_at" in table.c:
            # Set to itself: the column's onupdate would move it past the body's.
            values["updated_at"] = table.c.updated_at
        return update(table).where(key == bindparam("rendered_id")).values(**values)


def _agreement_json(row: Agreement) -> str:
    return dump(AgreementPublic.model_validate(row))


def _status_change_json(row: AgreementStatusChange) -> str:
    return dump(StatusChangePublic.model_validate(row))


def _initiative_json(row: Initiative) -> str:
    return dump(InitiativePublic.model_validate(row))


def _initiative_json_at(row: Initiative, version: int) -> str:
    return dump(InitiativePublic.model_validate(row).model_copy(update={"version": version}))


# A milestone is stored with ``overdue`` false; readers put in the day's value.
# Inside a JSON string every quote is escaped, so this text can only be the key.
_NOT_OVERDUE = ',"overdue":false,'
_OVERDUE = ',"overdue":true,'


def _milestone_json(row: Milestone) -> str:
    return dump(MilestonePublic.model_validate(row).model_copy(update={"overdue": False}))


def _milestone_json_at(row: Milestone, version: int) -> str:
    public = MilestonePublic.model_validate(row)
    return dump(public.model_copy(update={"overdue": False, "version": version}))


def milestone_with_overdue(body: str, overdue: bool) -> str:
    """A stored milestone's JSON with the day's ``overdue``."""
    return body.replace(_NOT_OVERDUE, _OVERDUE, 1) if overdue else body


def rollup_public(body: dict[str, Any], computed_at: Any) -> dict[str, Any]:
    """A stored rollup's body as its route answers it: with the time it was computed."""
    return {**body, "computed_at": computed_at}


def rollup_json(public: type[BaseModel], body: dict[str, Any], computed_at: Any) -> str:
    """A stored rollup's JSON as its route answers it (``body`` as stored)."""
    return dump(public.model_validate(rollup_public(body, computed_at)))


def _rollup_json(public: type[BaseModel]) -> Callable[[Any], str]:
    """A stored rollup row's JSON: its body, with when it was computed."""
    return lambda row: rollup_json(public, row.body, row.computed_at)


def in_jsonb_order(value: Any) -> Any:
    """A JSON value with each object's keys in the order PostgreSQL's ``jsonb``
    keeps them (shorter keys first, then byte order), at every depth.

    Stored so on every database, a JSON document reads back in the order it
    was written (SQLite keeps the text as written), and its rendered JSON can
    be made from the value written rather than from the row read back.
    """
    if isinstance(value, dict):
        return {key: in_jsonb_order(value[key]) for key in sorted(value, key=_jsonb_key)}
    if isinstance(value, list):
        return [in_jsonb_order(item) for item in value]
    return value


@functools.lru_cache(maxsize=4096)
def _jsonb_key(key: str) -> tuple[int, bytes]:
    # Keys repeat from one document to the next: each is worked out once.
    encoded = key.encode()
    return len(encoded), encoded


def _of(model: type[Any], attribute: str) -> Callable[[object], uuid.UUID | None]:
    return lambda instance: getattr(instance, attribute) if isinstance(instance, model) else None


def _agreement_touched_by(instance: object) -> uuid.UUID | None:
    if isinstance(instance, Agreement):
        return instance.id
    if isinstance(instance, AgreementParty):
        return instance.agreement_id
    return None


KINDS = (
    Kind(
        "agreements",
        Agreement,
        _agreement_touched_by,
        Agreement.id,
        _agreement_json,
        options=(selectinload(Agreement.parties),),
        members=lambda row: row.parties,
    ),
    Kind(
        "agreement_status_changes",
        AgreementStatusChange,
        _of(AgreementStatusChange, "id"),
        AgreementStatusChange.id,
        _status_change_json,
    ),
    Kind(
        "initiatives",
        Initiative,
        _of(Initiative, "id"),
        Initiative.id,
        _initiative_json,
        public_at=_initiative_json_at,
    ),
    Kind(
        "milestones",
        Milestone,
        _of(Milestone, "id"),
        Milestone.id,
        _milestone_json,
        public_at=_milestone_json_at,
    ),
    Kind(
        "agreement_rollups",
        AgreementRollup,
        _of(AgreementRollup, "agreement_id"),
        AgreementRollup.agreement_id,
        _rollup_json(AgreementRollupPublic),
        from_memory=False,
    ),
    Kind(
        "initiative_rollups",
        InitiativeRollup,
        _of(InitiativeRollup, "initiative_id"),
        InitiativeRollup.initiative_id,
        _rollup_json(InitiativeRollupPublic),
        from_memory=False,
    ),
)
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


def _fresh_rows(session: Session, kind: Kind, ids: set[uuid.UUID]) -> dict[uuid.UUID, Any]:
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
    only (see the module's docstring).
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
        bodies = kind.render(session, ids)
        if bodies:
            run_many_in_sync(
                session,
                _STORE[kind.name],
                [{"rendered_id": key, "rendered_body": body} for key, body in bodies.items()],
            )
