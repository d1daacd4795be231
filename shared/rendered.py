"""Rendered JSON: a resource's public JSON, kept with its row, rewritten by every write.

A read of a rendered resource is one indexed read of the bytes the API
answers, without building a model or validating anything: a page of 50 is
the 50 stored bodies joined. To stay consistent with every committed write,
the bodies are rewritten in the writing transaction itself, by the session
class of every session factory (:class:`RenderingSession`, made the sessions'
class in :mod:`shared.db`): each flush notes the resources its objects
belong to, and the commit renders them from the database as it stands in that
transaction, with the same pydantic model the API serializes, before the
COMMIT. A rollback forgets them. So a reader sees the new body exactly when it
sees the new row: read-your-writes for the writer, nothing stale after commit.
Sessions that commit each statement on its own (autocommit) render after
each flush, which is their commit.

Rows written before rendering existed (or by a migration) have no body:
readers render those on the spot (``None`` from the rendered reads).

Rendered now: agreements (:class:`AgreementPublic`, its parties included).
Resources whose public JSON moves with the date (a milestone's ``overdue``)
cannot be kept this way and are not.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, selectinload

from shared.agreements.schemas import AgreementPublic
from shared.models import Agreement, AgreementParty

_TOUCHED = "accords.rendered.touched"
_AGREEMENT_JSON = TypeAdapter(AgreementPublic)
_AGREEMENTS = Agreement.__table__

_STORE = (
    update(_AGREEMENTS)
    .where(_AGREEMENTS.c.id == bindparam("rendered_id"))
    # Set to itself: the column's onupdate would otherwise move it past the body's.
    .values(rendered=bindparam("rendered_body"), updated_at=_AGREEMENTS.c.updated_at)
)


def render_agreement(agreement: Agreement | AgreementPublic) -> str:
    """The agreement's JSON exactly as the API answers it."""
    public = (
        agreement
        if isinstance(agreement, AgreementPublic)
        else AgreementPublic.model_validate(agreement)
    )
    return _AGREEMENT_JSON.dump_json(public, by_alias=True).decode()


def _agreement_of(instance: object) -> uuid.UUID | None:
    if isinstance(instance, Agreement):
        return instance.id
    if isinstance(instance, AgreementParty):
        return instance.agreement_id
    return None


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
        ids = {found for found in map(_agreement_of, instances) if found is not None}
        if ids:
            self.info.setdefault(_TOUCHED, set()).update(ids)

    def _commits_each_statement(self) -> bool:
        bind = self.get_bind()
        return bind.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def refresh(session: Session) -> None:
    """Rewrite the bodies of the agreements this transaction touched (sync, in-session)."""
    ids = session.info.pop(_TOUCHED, None)
    if not ids:
        return
    agreements = session.scalars(
        select(Agreement)
        .options(selectinload(Agreement.parties))
        .where(Agreement.id.in_(ids))
        # As stored now: collections changed through other objects included.
        .execution_options(populate_existing=True)
    ).all()
    if agreements:
        session.execute(
            _STORE,
            [
                {"rendered_id": agreement.id, "rendered_body": render_agreement(agreement)}
                for agreement in agreements
            ],
        )
