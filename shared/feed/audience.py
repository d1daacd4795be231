"""Which organizations an event concerns, decided when the event is written.

An organization-bound key reads an agreement when its organization is party
to it, a stand-alone research collaboration when it takes part, and its own
organization. The event is stored with those organizations, looked up in the
same transaction, plus the ones its data names (a deletion's ``before`` still
lists the parties the database no longer has).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import AgreementParty, ResearchParticipant
from shared.statements import run_statement


def _named(members: Any) -> set[uuid.UUID]:
    """The ``organization_id`` of each party or participant listed in event data."""
    found: set[uuid.UUID] = set()
    if not isinstance(members, list):
        return found
    for member in members:
        value = member.get("organization_id") if isinstance(member, dict) else None
        try:
            found.add(uuid.UUID(str(value)))
        except ValueError:
            continue
    return found


# Built once, the aggregate bound at each run: every write asks one of them.
_PARTIES_OF = select(AgreementParty.organization_id).where(
    AgreementParty.agreement_id == bindparam("aggregate_id")
)
_PARTICIPANTS_OF = select(ResearchParticipant.organization_id).where(
    ResearchParticipant.research_collaboration_id == bindparam("aggregate_id")
)


def members_query(*, event_type: str, aggregate_type: str) -> Any | None:
    """The statement of the organizations the database holds as members of the
    event's aggregate (its ``aggregate_id`` bound at the run), or None when the
    event's audience needs none."""
    if aggregate_type == "organization" or event_type == "agreement.created":
        return None
    if aggregate_type == "agreement":
        return _PARTIES_OF
    if aggregate_type == "research_collaboration":
        return _PARTICIPANTS_OF
    return None


def audience_of(
    *,
    event_type: str,
    aggregate_type: str,
    aggregate_id: uuid.UUID,
    data: dict[str, Any],
    members: set[uuid.UUID],
) -> set[uuid.UUID]:
    """The organizations an event concerns, given the ``members`` that
    :func:`members_query` read (an empty set where it needs none).

    Always those members united with what ``members=set()`` gives: on
    PostgreSQL an event's single statement unites the members it reads with
    that (:mod:`shared.events`)."""
    if aggregate_type == "organization":
        return {aggregate_id}
    if event_type == "agreement.created":
        # Written in this transaction with exactly the parties its data lists.
        return _named(data.get("parties"))
    if aggregate_type == "agreement":
        # Only the agreement's own events list its parties; a collaboration under
        # it lists participants, who see it only as parties of the agreement.
        named = _named(data.get("parties")) if event_type.startswith("agreement.") else set()
        return members | named
    if aggregate_type == "research_collaboration":
        return members | _named(data.get("participants"))
    return set()


async def read_members(
    session: AsyncSession, query: Any | None, aggregate_id: uuid.UUID
) -> set[uuid.UUID]:
    """The members ``query`` (of :func:`members_query`) selects; none without one."""
    if query is None:
        return set()
    return {row[0] for row in await run_statement(session, query, {"aggregate_id": aggregate_id})}
