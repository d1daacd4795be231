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

Rendered: agreements (their parties included) and their history, initiatives,
milestones, and
the stored rollups of agreements and initiatives. A milestone's ``overdue``
moves with the date without a write: it is stored false, and readers put in
the day's value (:func:`milestone_with_overdue`, from the same SQL condition
the ``overdue`` filter uses). Other resources whose JSON moves with the date
(a report's ``overdue``) are not stored yet. Writes must go through ORM objects (a bulk
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

_TOUCHED = "accords.rendered.touched"


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


def _render_status_changes(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = _loaded(session, AgreementStatusChange, AgreementStatusChange.id, ids)
    return {row.id: dump(StatusChangePublic.model_validate(row)) for row in rows}


def _render_initiatives(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = _loaded(session, Initiative, Initiative.id, ids)
    return {row.id: dump(InitiativePublic.model_validate(row)) for row in rows}


# A milestone is stored with ``overdue`` false; readers put in the day's value.
# Inside a JSON string every quote is escaped, so this text can only be the key.
_NOT_OVERDUE = ',"overdue":false,'
_OVERDUE = ',"overdue":true,'


def _render_milestones(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = _loaded(session, Milestone, Milestone.id, ids)
    return {
        row.id: dump(MilestonePublic.model_validate(row).model_copy(update={"overdue": False}))
        for row in rows
    }


def milestone_with_overdue(body: str, overdue: bool) -> str:
    """A stored milestone's JSON with the day's ``overdue``."""
    return body.replace(_NOT_OVERDUE, _OVERDUE, 1) if overdue else body


def rollup_public(body: dict[str, Any], computed_at: Any) -> dict[str, Any]:
    """A stored rollup's body as its route answers it: with the time it was computed."""
    return {**body, "computed_at": computed_at}


def _rollups(
    model: type[Any], key: Any, public: type[BaseModel]
) -> Callable[[Session, set[uuid.UUID]], dict[uuid.UUID, str]]:
    """The renderer of a stored rollup table: its body, with when it was computed."""

    def render(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        return {
            getattr(row, key.key): dump(
                public.model_validate(rollup_public(row.body, row.computed_at))
            )
            for row in _loaded(session, model, key, ids)
        }

    return render


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
    Kind(
        "agreement_status_changes",
        AgreementStatusChange,
        _of(AgreementStatusChange, "id"),
        _render_status_changes,
    ),
    Kind("initiatives", Initiative, _of(Initiative, "id"), _render_initiatives),
    Kind("milestones", Milestone, _of(Milestone, "id"), _render_milestones),
    Kind(
        "agreement_rollups",
        AgreementRollup,
        _of(AgreementRollup, "agreement_id"),
        _rollups(AgreementRollup, AgreementRollup.agreement_id, AgreementRollupPublic),
    ),
    Kind(
        "initiative_rollups",
        InitiativeRollup,
        _of(InitiativeRollup, "initiative_id"),
        _rollups(InitiativeRollup, InitiativeRollup.initiative_id, InitiativeRollupPublic),
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
