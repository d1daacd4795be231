"""The status sets and the overdue rule are written once, in shared/lifecycle.py."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.agreements.schemas import AgreementPublic
from shared.errors import InvalidTransition
from shared.initiatives.schemas import InitiativePublic
from shared.lifecycle import (
    AGREEMENT_CLOSED_STATUSES,
    AGREEMENT_DORMANCY_STATUSES,
    AGREEMENT_EXPIRABLE_STATUSES,
    AGREEMENT_LIVE_STATUSES,
    AGREEMENT_STATUSES,
    INITIATIVE_STATUSES,
    MILESTONE_STATUSES,
    REPORT_STATUSES,
    REPORT_TRANSITIONS,
    RESEARCH_STATUSES,
    check_move,
    milestone_is_overdue,
    report_is_overdue,
)
from shared.milestones.schemas import MilestonePublic
from shared.reports.schemas import ReportPublic
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


def test_expirable_agreement_statuses_are_the_ones_a_transition_to_expired_leaves() -> None:
    assert AGREEMENT_EXPIRABLE_STATUSES == ("signed", "active")


def test_live_agreement_statuses_are_the_ones_in_force() -> None:
    assert AGREEMENT_LIVE_STATUSES == ("signed", "active", "suspended")
    assert AGREEMENT_DORMANCY_STATUSES == ("signed", "active")


def test_the_report_schema_offers_exactly_its_lifecycle_statuses() -> None:
    enum = ReportPublic.model_json_schema()["properties"]["status"]["enum"]

    assert enum == list(REPORT_STATUSES)
    assert set(REPORT_TRANSITIONS) == set(REPORT_STATUSES)


@pytest.mark.parametrize("status", ["open", "returned"])
def test_a_report_still_owed_past_its_date_is_overdue(status: str) -> None:
    assert report_is_overdue(status, TODAY - dt.timedelta(days=1), TODAY)
    assert not report_is_overdue(status, TODAY, TODAY)


@pytest.mark.parametrize("status", ["submitted", "accepted"])
def test_a_submitted_or_accepted_report_is_never_overdue(status: str) -> None:
    assert not report_is_overdue(status, TODAY - dt.timedelta(days=400), TODAY)


def test_a_move_without_an_edge_is_refused_naming_what_may_follow() -> None:
    with pytest.raises(InvalidTransition) as refused:
        check_move("A report", REPORT_TRANSITIONS, "open", "accepted")

    assert refused.value.detail == "A report cannot move from open to accepted."
    assert refused.value.extensions["allowed"] == ["submitted"]
    check_move("A report", REPORT_TRANSITIONS, "submitted", "accepted")
