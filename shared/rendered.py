"""Rendered JSON: a resource's public JSON, kept with its row, rewritten by every write.

A read of a rendered resource is one indexed read of the bytes the API
answers, without building a model or validating anything: a page of 50 is
the 50 stored bodies joined. To stay consistent with every committed write,
the bodies are rewritten in the writing transaction itself, by the session
class of every session factory (:class:`RenderingSession`, made the sessions'
class in :mod:`shared.db`): each flush notes the rows of each :class:`Kind`
its objects change, and the commit renders them from the database as it
stands in that transaction, with the same pydantic model the API serializes,
before the COMMIT. A rollback forgets them. So a reader sees the new body
exactly when it sees the new row: read-your-writes for the writer, nothing
stale after commit. Sessions that commit each statement on their own
(autocommit) render after each flush, which is their commit.

Rows written before rendering existed (or by a migration) have no body:
readers render those on the spot (``None`` from the rendered reads).

Rendered: agreements (their parties included), initiatives, and the stored
rollups of agreements and initiatives. A resource whose public JSON moves
with the date without a write (a milestone's ``overdue``, a report's) cannot
be kept this way and is not. Writes must go through ORM objects (a bulk
Core UPDATE of a rendered table would leave its bodies behind); none does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session, selectinload

from shared.agreements.schemas import AgreementPublic
from shared.initiatives.schemas import InitiativePublic
from shared.models import (
    Agreement,
    AgreementParty,
    AgreementRollup,
    Initiative,
    InitiativeRollup,
)
from shared.rollups.schemas import AgreementRollupPublic, InitiativeRollupPublic

_TOUCHED = "accords.rendered.touched"


def dump(public: BaseModel) -> str:
    """A public model's JSON exactly as the API answers it."""
    return _adapter(type(public)).dump_json(public, by_alias=True).decode()


_ADAPTERS: dict[type[BaseModel], TypeAdapter[Any]] = {}


def _adapter(model: type[BaseModel]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter


@dataclass(frozen=True)
class Kind:
    """A table whose rows keep their public JSON in a ``rendered`` column."""

    name: str
    model: type[Any]
    # Which row of this kind a change of the ORM object touches, if any.
    touched_by: Callable[[object], uuid.UUID | None]
    # The public JSON of each row, loaded as it stands in the transaction.
    render: Callable[[Session, set[uuid.UUID]], dict[uuid.UUID, str]]

    @property
    def table(self) -> Table:
        return self.model.__table__  # type: ignore[no-any-return]

    def store_statement(self) -> Any:
        table = self.table
        key = next(iter(table.primary_key.columns))
        values: dict[str, Any] = {"rendered": bindparam("rendered_body")}
        if "updated_at" in table.c:
            # Set to itself: the column's onupdate would move it past the body's.
            values["updated_at"] = table.c.updated_at
        return update(table).where(key == bindparam("rendered_id")).values(**values)


def _loaded(session: Session, model: type[Any], key: Any, ids: set[uuid.UUID], *options: Any):  # type: ignore[no-untyped-def]
    # As stored now, collections changed through other objects included.
    return session.scalars(
        select(model)
        .options(*options)
        .where(key.in_(ids))
        .execution_options(populate_existing=True)
    ).all()


def _render_agreements(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = _loaded(session, Agreement, Agreement.id, ids, selectinload(Agreement.parties))
    return {row.id: dump(AgreementPublic.model_validate(row)) for row in rows}


def _render_initiatives(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = _loaded(session, Initiative, Initiative.id, ids)
    return {row.id: dump(InitiativePublic.model_validate(row)) for row in rows}


def rollup_public(body: dict[str, Any], computed_at: Any) -> dict[str, Any]:
    """A stored rollup's body as its route answers it: with the time it was computed."""
    return {**body, "computed_at": computed_at}


def _render_agreement_rollups(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = _loaded(session, AgreementRollup, AgreementRollup.agreement_id, ids)
    return {
        row.agreement_id: dump(
            AgreementRollupPublic.model_validate(rollup_public(row.body, row.computed_at))
        )
        for row in rows
    }


def _render_initiative_rollups(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = _loaded(session, InitiativeRollup, InitiativeRollup.initiative_id, ids)
    return {
        row.initiative_id: dump(
            InitiativeRollupPublic.model_validate(rollup_public(row.body, row.computed_at))
        )
        for row in rows
    }


def _of(model: type[Any], attribute: str) -> Callable[[object], uuid.UUID | None]:
    return lambda instance: getattr(instance, attribute) if isinstance(instance, model) else None


def _agreement_touched_by(instance: object) -> uuid.UUID | None:
    if isinstance(instance, Agreement):
        return instance.id
    if isinstance(instance, AgreementParty):
        return instance.agreement_id
    return None


KINDS = (
    Kind("agreements", Agreement, _agreement_touched_by, _render_agreements),
    Kind("initiatives", Initiative, _of(Initiative, "id"), _render_initiatives),
    Kind(
        "agreement_rollups",
        AgreementRollup,
        _of(AgreementRollup, "agreement_id"),
        _render_agreement_rollups,
    ),
    Kind(
        "initiative_rollups",
        InitiativeRollup,
        _of(InitiativeRollup, "initiative_id"),
        _render_initiative_rollups,
    ),
)
_STORE = {kind.name: kind.store_statement() for kind in KINDS}


class RenderingSession(Session):
    """A Session that keeps the rendered JSON of what it writes in step."""

    def flush(self, objects: Any = None) -> None:
        pending = [*self.new, *self.dirty, *self.deleted]
        super().flush(objects)
        if pending:
            self._note(pending)
            if self._commits_each_statement():
                refresh(self)

    def commit(self) -> None:
        if self.info.get(_TOUCHED) or self.new or self.dirty or self.deleted:
            self.flush()
            refresh(self)
        super().commit()

    def rollback(self) -> None:
        self.info.pop(_TOUCHED, None)
        super().rollback()

    def _note(self, instances: Iterable[object]) -> None:
        # Ids are read after the flush: a new row's id is given on insert.
        instances = list(instances)
        for kind in KINDS:
            ids = {found for found in map(kind.touched_by, instances) if found is not None}
            if ids:
                self.info.setdefault(_TOUCHED, {}).setdefault(kind.name, set()).update(ids)

    def _commits_each_statement(self) -> bool:
        bind = self.get_bind()
        return bind.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def refresh(session: Session) -> None:
    """Rewrite the bodies of the rows this transaction touched (sync, in-session)."""
    touched: dict[str, set[uuid.UUID]] | None = session.info.pop(_TOUCHED, None)
    if not touched:
        return
    for kind in KINDS:
        ids = touched.get(kind.name)
        if not ids:
            continue
        bodies = kind.render(session, ids)
        if bodies:
            session.execute(
                _STORE[kind.name],
                [{"rendered_id": key, "rendered_body": body} for key, body in bodies.items()],
            )
