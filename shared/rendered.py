"""Rendered JSON: a resource's public JSON, kept with its row, rewritten by every write.

A read of a rendered resource is one indexed read of the bytes the API
answers, without building a model or validating anything: a page of 50 is
the 50 stored bodies joined. To stay consistent with every committed write,
the bodies are rewritten in the writing transaction itself, by the session
class of every session factory (:mod:`shared.rendered_session`). This module
says what is rendered and how: each :class:`Kind` (a table with a
``rendered`` column, the objects whose changes touch its rows, the public
JSON of a row) and the helpers readers and row writers share.

Rows written before rendering existed (or by a migration) have no body:
readers render those on the spot (``None`` from the rendered reads).

Rendered: agreements (their parties included) and their history, initiatives,
milestones, and the stored rollups of agreements and initiatives. A milestone's ``overdue``
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
from sqlalchemy.orm import selectinload

from shared.agreements.schemas import AgreementPublic, StatusChangePublic
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
    # (see :func:`shared.rendered_session.fresh_rows`). Not where the JSON holds a stored mapping:
    # PostgreSQL's jsonb gives its keys back in another order than they went in.
    from_memory: bool = True
    # One row's public JSON at the given version (the one its UPDATE is about
    # to give it): with it, a row updated through its object gets its body in
    # that same UPDATE (see :meth:`shared.rendered_session.RenderingSession._fold`).
    public_at: Callable[[Any, int], str] | None = None

    @functools.cached_property
    def from_updates(self) -> bool:
        """Whether a row this transaction updated through its object may be
        rendered from that object too (see
        :func:`shared.rendered_session.fresh_rows`): a row whose JSON reads
        nothing through other objects, under optimistic concurrency (its UPDATE
        fails on a row changed since it was read, so the object holds the row)."""
        mapper = inspect(self.model)
        return (
            self.from_memory and self.members is _no_members and mapper.version_id_col is not None
        )

    @property
    def table(self) -> Table:
        return self.model.__table__  # type: ignore[no-any-return]

    @functools.cached_property
    def load_statement(self) -> Any:
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
