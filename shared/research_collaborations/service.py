"""Research collaboration use cases: joint research, its people and its outputs.

A collaboration under an agreement writes its events on the agreement's
stream; one standing alone is its own aggregate. An organization-bound key
sees a collaboration when its organization is party to the agreement it hangs
under, or, for one without an agreement, when its organization takes part.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shared.documents.service import delete_documents_of
from shared.errors import InvalidReference
from shared.events import Actor, Aggregate, record_change
from shared.ids import uuid7
from shared.lifecycle import RESEARCH_TRANSITIONS, check_move
from shared.models import (
    Agreement,
    AgreementParty,
    Organization,
    ResearchCollaboration,
    ResearchOutput,
    ResearchParticipant,
)
from shared.models import Researcher as ResearcherRow
from shared.research_collaborations.schemas import (
    OutputCreate,
    Participant,
    ResearchCollaborationCreate,
    ResearchCollaborationUpdate,
    Researcher,
    as_public,
    check_dates,
)
from shared.research_collaborations.visibility import aggregate_for, visible_to
from shared.rows import one_or_404, rows_after, text_in

_LOAD = (
    selectinload(ResearchCollaboration.participants),
    selectinload(ResearchCollaboration.researchers),
    selectinload(ResearchCollaboration.outputs),
)


def aggregate_of(collaboration: ResearchCollaboration) -> Aggregate:
    return aggregate_for(collaboration.id, collaboration.agreement_id)


async def get_collaboration(
    session: AsyncSession,
    collaboration_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None = None,
    for_update: bool = False,
) -> ResearchCollaboration:
    """The collaboration with participants, researchers and outputs; 404 when not visible."""
    query = (
        select(ResearchCollaboration)
        .options(*_LOAD)
        .where(ResearchCollaboration.id == collaboration_id)
    )
    condition = visible_to(organization_id)
    if condition is not None:
        query = query.where(condition)
    missing = f"Research collaboration {collaboration_id} does not exist."
    return await one_or_404(
        session, query, missing=missing, lock=ResearchCollaboration if for_update else None
    )


async def list_collaborations(
    session: AsyncSession,
    *,
    after: uuid.UUID | None,
    limit: int,
    organization_scope: uuid.UUID | None,
    agreement_id: uuid.UUID | None = None,
    status: str | None = None,
    organization_id: uuid.UUID | None = None,
    q: str | None = None,
) -> list[ResearchCollaboration]:
    """Up to ``limit + 1`` collaborations after ``after``, in creation order."""
    query = select(ResearchCollaboration).options(*_LOAD)
    condition = visible_to(organization_scope)
    if condition is not None:
        query = query.where(condition)
    if agreement_id:
        query = query.where(ResearchCollaboration.agreement_id == agreement_id)
    if status:
        query = query.where(ResearchCollaboration.status == status)
    if organization_id:
        query = query.where(
            exists().where(
                ResearchParticipant.research_collaboration_id == ResearchCollaboration.id,
                ResearchParticipant.organization_id == organization_id,
            )
        )
    if q:
        query = query.where(
            text_in(q, ResearchCollaboration.title, ResearchCollaboration.research_area)
        )
    return await rows_after(session, query, ResearchCollaboration.id, after=after, limit=limit)


async def _check_agreement(
    session: AsyncSession, agreement_id: uuid.UUID | None, organization_id: uuid.UUID | None
) -> None:
    if agreement_id is None:
        return
    query = select(Agreement.id).where(Agreement.id == agreement_id)
    if organization_id is not None:
        query = query.where(
            exists().where(
                AgreementParty.agreement_id == Agreement.id,
                AgreementParty.organization_id == organization_id,
            )
        )
    if await session.scalar(query) is None:
        raise InvalidReference(
            f"No agreement with id {agreement_id}.",
            errors=[{"loc": ["body", "agreement_id"], "msg": "no such agreement"}],
        )


async def _check_people(
    session: AsyncSession,
    participants: list[Participant],
    researchers: list[Researcher],
) -> None:
    """Participants must exist; each researcher's organization must be a participant."""
    wanted = {participant.organization_id for participant in participants}
    found = set(
        (await session.scalars(select(Organization.id).where(Organization.id.in_(wanted)))).all()
    )
    errors: list[dict[str, Any]] = [
        {"loc": ["body", "participants", index, "organization_id"], "msg": "no such organization"}
        for index, participant in enumerate(participants)
        if participant.organization_id not in found
    ]
    errors.extend(
        {
            "loc": ["body", "researchers", index, "organization_id"],
            "msg": "not a participant of the collaboration",
        }
        for index, researcher in enumerate(researchers)
        if researcher.organization_id not in wanted
    )
    if errors:
        raise InvalidReference(
            "Participants must be existing organizations, and each researcher's "
            "organization one of the participants.",
            errors=errors,
        )


def _check_scope_takes_part(
    organization_scope: uuid.UUID | None,
    agreement_id: uuid.UUID | None,
    participants: list[Participant],
) -> None:
    """An organization-bound key cannot record a stand-alone collaboration it could not see."""
    if organization_scope is None or agreement_id is not None:
        return
    if organization_scope not in {participant.organization_id for participant in participants}:
        raise InvalidReference(
            "With an organization-bound key, a collaboration without an agreement must "
            "have that organization among its participants.",
            errors=[{"loc": ["body", "participants"], "msg": "your organization is missing"}],
        )


def _participant_rows(participants: list[Participant]) -> list[ResearchParticipant]:
    return [
        ResearchParticipant(
            organization_id=participant.organization_id, role=participant.role, position=index
        )
        for index, participant in enumerate(participants)
    ]


def _researcher_rows(researchers: list[Researcher]) -> list[ResearcherRow]:
    return [
        ResearcherRow(
            id=uuid7(),
            name=researcher.name,
            orcid=researcher.orcid,
            organization_id=researcher.organization_id,
            role=researcher.role,
            position=index,
        )
        for index, researcher in enumerate(researchers)
    ]


def _output_row(output: OutputCreate) -> ResearchOutput:
    return ResearchOutput(
        id=uuid7(),
        kind=output.kind,
        title=output.title,
        doi=output.doi,
        url=output.url,
        published_on=output.published_on,
    )


async def create_collaboration(
    session: AsyncSession,
    *,
    actor: Actor,
    payload: ResearchCollaborationCreate,
    organization_scope: uuid.UUID | None,
) -> ResearchCollaboration:
    await _check_agreement(session, payload.agreement_id, organization_scope)
    _check_scope_takes_part(organization_scope, payload.agreement_id, payload.participants)
    await _check_people(session, payload.participants, payload.researchers)
    collaboration = ResearchCollaboration(
        id=uuid7(),
        agreement_id=payload.agreement_id,
        title=payload.title,
        research_area=payload.research_area,
        status=payload.status,
        start_on=payload.start_on,
        end_on=payload.end_on,
        participants=_participant_rows(payload.participants),
        researchers=_researcher_rows(payload.researchers),
        outputs=[_output_row(output) for output in payload.outputs],
    )
    session.add(collaboration)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="research_collaboration.created",
        aggregate=aggregate_of(collaboration),
        entity_id=collaboration.id,
        before=None,
        after=as_public(collaboration),
    )
    return collaboration


async def update_collaboration(
    session: AsyncSession,
    *,
    actor: Actor,
    collaboration: ResearchCollaboration,
    payload: ResearchCollaborationUpdate,
) -> ResearchCollaboration:
    """Apply a PATCH; a status change emits ``status_changed``, anything else ``updated``."""
    changes = payload.changes()
    if not changes:
        return collaboration
    previous = collaboration.status
    status = changes.get("status", previous)
    if status != previous:
        check_move("A research collaboration", RESEARCH_TRANSITIONS, previous, status)
    try:
        check_dates(
            changes.get("start_on", collaboration.start_on),
            changes.get("end_on", collaboration.end_on),
        )
    except ValueError as exc:
        raise InvalidReference(
            str(exc), errors=[{"loc": ["body", "end_on"], "msg": str(exc)}]
        ) from exc
    participants = (
        payload.participants
        if payload.participants is not None
        else [Participant.model_validate(row) for row in collaboration.participants]
    )
    researchers = (
        payload.researchers
        if payload.researchers is not None
        else [Researcher.model_validate(row) for row in collaboration.researchers]
    )
    if payload.participants is not None or payload.researchers is not None:
        await _check_people(session, participants, researchers)
    before = as_public(collaboration)
    if payload.participants is not None:
        # Old rows go first (same primary keys may come back); flushed before
        # any column changes so that the version moves only once.
        collaboration.participants.clear()
        await session.flush()
        collaboration.participants.extend(_participant_rows(payload.participants))
    for field in ("title", "research_area", "status", "start_on", "end_on"):
        if field in changes:
            setattr(collaboration, field, changes[field])
    if payload.researchers is not None:
        collaboration.researchers.clear()
        collaboration.researchers.extend(_researcher_rows(payload.researchers))
    if payload.outputs is not None:
        collaboration.outputs.clear()
        collaboration.outputs.extend(_output_row(output) for output in payload.outputs)
    collaboration.updated_at = dt.datetime.now(dt.UTC)
    await session.flush()
    status_changed = status != previous
    await record_change(
        session,
        actor=actor,
        event_type=(
            "research_collaboration.status_changed"
            if status_changed
            else "research_collaboration.updated"
        ),
        aggregate=aggregate_of(collaboration),
        entity_id=collaboration.id,
        before=before,
        after=as_public(collaboration),
        extra={"previous_status": previous} if status_changed else None,
    )
    return collaboration


async def add_output(
    session: AsyncSession,
    *,
    actor: Actor,
    collaboration: ResearchCollaboration,
    payload: OutputCreate,
) -> ResearchOutput:
    output = _output_row(payload)
    before = as_public(collaboration)
    collaboration.outputs.append(output)
    collaboration.updated_at = dt.datetime.now(dt.UTC)
    await session.flush()
    after = as_public(collaboration)
    await record_change(
        session,
        actor=actor,
        event_type="research_collaboration.output_added",
        aggregate=aggregate_of(collaboration),
        entity_id=collaboration.id,
        before=before,
        after=after,
        extra={"output": next(item for item in after["outputs"] if item["id"] == str(output.id))},
    )
    return output


async def delete_collaboration(
    session: AsyncSession, *, actor: Actor, collaboration: ResearchCollaboration
) -> None:
    await delete_documents_of(
        session, actor=actor, owner_type="research_collaboration", owner_id=collaboration.id
    )
    before = as_public(collaboration)
    await session.delete(collaboration)
    await session.flush()
    await record_change(
        session,
        actor=actor,
        event_type="research_collaboration.deleted",
        aggregate=aggregate_of(collaboration),
        entity_id=collaboration.id,
        before=before,
        after=None,
    )
