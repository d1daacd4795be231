"""How the tracking under an agreement follows the agreement itself.

Called by the agreement service, inside its transaction: the lifecycle
cascade (suspend, resume, terminate) and the checks that keep agreement edits
and deletions consistent with the initiatives, engagements and research
collaborations recorded under it. This module imports no other service, so
the agreement service can import it without a cycle.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Conflict
from shared.events import Actor, Aggregate, record_change
from shared.initiatives.schemas import as_public
from shared.lifecycle import INITIATIVE_OPEN_STATUSES, initiative_cascade
from shared.models import Engagement, Indicator, Initiative, ResearchCollaboration

CASCADING_MOVES = ("suspended", "terminated")


async def cascade_to_initiatives(
    session: AsyncSession,
    *,
    actor: Actor,
    agreement_id: uuid.UUID,
    agreement_from: str,
    agreement_to: str,
) -> list[Initiative]:
    """Move the agreement's open initiatives along with it; each move is an event.

    Suspending puts open initiatives ``on_hold`` and remembers their status;
    resuming restores exactly those; terminating cancels what is still open.
    Returns the initiatives whose status changed.
    """
    if agreement_to not in CASCADING_MOVES and agreement_from != "suspended":
        return []
    initiatives = (
        await session.scalars(
            select(Initiative)
            .where(
                Initiative.agreement_id == agreement_id,
                Initiative.status.in_(INITIATIVE_OPEN_STATUSES),
            )
            .order_by(Initiative.id)
            .with_for_update()
        )
    ).all()
    moved: list[Initiative] = []
    for initiative in initiatives:
        move = initiative_cascade(
            agreement_from=agreement_from,
            agreement_to=agreement_to,
            status=initiative.status,
            paused_from_status=initiative.paused_from_status,
        )
        if move is None:
            continue
        previous = initiative.status
        if move.status == previous:
            initiative.paused_from_status = move.paused_from_status
            continue
        before = as_public(initiative)
        initiative.status = move.status
        initiative.paused_from_status = move.paused_from_status
        initiative.updated_at = dt.datetime.now(dt.UTC)
        await session.flush()
        await record_change(
            session,
            actor=actor,
            event_type="initiative.status_changed",
            aggregate=Aggregate("agreement", agreement_id),
            entity_id=initiative.id,
            before=before,
            after=as_public(initiative),
            extra={
                "previous_status": previous,
                "reason": f"The agreement moved from {agreement_from} to {agreement_to}.",
                "agreement_status": agreement_to,
            },
        )
        moved.append(initiative)
    await session.flush()
    return moved


# What names an objective by its ref, and what to do before removing it.
_OBJECTIVE_USERS = (
    (
        Initiative,
        "is carried out by initiatives; move those initiatives to another objective "
        "before removing it.",
    ),
    (Indicator, "is named by indicators; change their objective_ref before removing it."),
)


async def ensure_objectives_unused(
    session: AsyncSession, *, agreement_id: uuid.UUID, kept_refs: Iterable[str]
) -> None:
    """409 when new objectives would drop a ref an initiative or an indicator still names."""
    kept = set(kept_refs)
    for model, what_to_do in _OBJECTIVE_USERS:
        used = (
            await session.scalars(
                select(model.objective_ref)
                .where(model.agreement_id == agreement_id, model.objective_ref.is_not(None))
                .distinct()
            )
        ).all()
        dropped = sorted(set(used) - kept)
        if dropped:
            raise Conflict(f"Objective {', '.join(dropped)} {what_to_do}")


async def ensure_leads_remain_parties(
    session: AsyncSession, *, agreement_id: uuid.UUID, kept_party_ids: Iterable[uuid.UUID]
) -> None:
    """409 when new parties would drop an organization that leads an initiative."""
    kept = set(kept_party_ids)
    leads = set(
        (
            await session.scalars(
                select(Initiative.lead_organization_id)
                .where(Initiative.agreement_id == agreement_id)
                .distinct()
            )
        ).all()
    )
    dropped = sorted(str(organization_id) for organization_id in leads - kept)
    if dropped:
        raise Conflict(
            f"Organization {', '.join(dropped)} leads initiatives of this agreement; "
            "give them another lead before removing it from the parties."
        )


async def ensure_nothing_recorded_under(session: AsyncSession, *, agreement_id: uuid.UUID) -> None:
    """409 when deleting the agreement would orphan what was recorded under it."""
    counts = {}
    for label, model in (
        ("initiatives", Initiative),
        ("engagements", Engagement),
        ("research collaborations", ResearchCollaboration),
    ):
        counts[label] = await session.scalar(
            select(func.count()).select_from(model).where(model.agreement_id == agreement_id)
        )
    present = [f"{count} {label}" for label, count in counts.items() if count]
    if present:
        raise Conflict(
            f"The agreement has {', '.join(present)}; delete them first "
            "(or cancel the agreement, which keeps the record)."
        )
