"""The status sets and the overdue rule are written once, in shared/lifecycle.py."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.agreements.schemas import AgreementPublic
from shared.initiatives.schemas import InitiativePublic
from shared.lifecycle import (
    AGREEMENT_CLOSED_STATUSES,
    AGREEMENT_STATUSES,
    INITIATIVE_STATUSES,
    MILESTONE_STATUSES,
    RESEARCH_STATUSES,
    milestone_is_overdue,
)
from shared.milestones.schemas import MilestonePublic
from shared.research_collaborations.schemas import ResearchCollaborationPublic

TODAY = dt.date(2026, 12, 1)


@pytest.mark.parametrize(
    ("schema", "statuses"),
    [
        (AgreementPublic, AGREEMENT_STATUSES),
        (InitiativePublic, INITIATIVE_STATUSES),
        (MilestonePublic, MILESTONE_STATUSES),
        (ResearchCollaborationPublic, RESEARCH_STATUSES),
    ],
    ids=["agreement", "initiative", "milestone", "research"],
)
def test_each_public_schema_offers_exactly_its_lifecycle_statuses(schema, statuses) -> None:
    enum = schema.model_json_schema()["properties"]["status"]["enum"]

    assert enum == list(statuses)


def test_closed_agreement_statuses_are_the_ones_no_transition_leaves() -> None:
    assert AGREEMENT_CLOSED_STATUSES == ("completed", "terminated", "expired", "cancelled")


@pytest.mark.parametrize("status", ["pending", "in_progress"])
def test_an_open_milestone_due_yesterday_is_overdue(status: str) -> None:
    assert milestone_is_overdue(status, TODAY - dt.timedelta(days=1), TODAY)


@pytest.mark.parametrize("status", ["done", "cancelled"])
def test_a_closed_milestone_is_never_overdue(status: str) -> None:
    assert not milestone_is_overdue(status, TODAY - dt.timedelta(days=400), TODAY)


def test_a_milestone_due_today_is_not_yet_overdue() -> None:
    assert not milestone_is_overdue("pending", TODAY, TODAY)
