"""Who sees a research collaboration, and which stream its events join: written
once for its use cases, its documents (shared.documents.owners) and the feed.

One under an agreement is seen by the agreement's parties and writes on the
agreement's stream; one standing alone is seen by the organizations taking
part and is its own aggregate.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, exists, or_

from shared.events import Aggregate
from shared.models import AgreementParty, ResearchCollaboration, ResearchParticipant


def aggregate_for(collaboration_id: uuid.UUID, agreement_id: uuid.UUID | None) -> Aggregate:
    if agreement_id is not None:
        return Aggregate("agreement", agreement_id)
    return Aggregate("research_collaboration", collaboration_id)


def visible_to(organization_id: uuid.UUID | None) -> ColumnElement[bool] | None:
    """The condition on collaborations an organization sees (``None``: no limit)."""
    if organization_id is None:
        return None
    return or_(
        and_(
            ResearchCollaboration.agreement_id.is_not(None),
            exists().where(
                AgreementParty.agreement_id == ResearchCollaboration.agreement_id,
                AgreementParty.organization_id == organization_id,
            ),
        ),
        and_(
            ResearchCollaboration.agreement_id.is_(None),
            exists().where(
                ResearchParticipant.research_collaboration_id == ResearchCollaboration.id,
                ResearchParticipant.organization_id == organization_id,
            ),
        ),
    )
