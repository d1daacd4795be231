from __future__ import annotations

import datetime as dt

import pytest

from shared.lifecycle import (
    AGREEMENT_STATUSES,
    AGREEMENT_TRANSITIONS,
    AgreementFacts,
    allowed_agreement_targets,
    missing_conditions,
)

SIGNATORIES = AgreementFacts(party_roles=("signatory", "signatory"), signed_on=dt.date(2023, 9, 4))


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("draft", "negotiation"),
        ("negotiation", "signed"),
        ("signed", "active"),
        ("active", "suspended"),
        ("suspended", "active"),
        ("active", "completed"),
        ("suspended", "completed"),
        ("active", "terminated"),
        ("suspended", "terminated"),
        ("signed", "expired"),
        ("active", "expired"),
        ("draft", "cancelled"),
        ("negotiation", "cancelled"),
    ],
)
def test_the_spec_moves_are_allowed(current: str, target: str) -> None:
    assert target in allowed_agreement_targets(current)


def test_no_other_move_is_allowed() -> None:
    allowed = sum(len(targets) for targets in AGREEMENT_TRANSITIONS.values())

    assert allowed == 13
    assert set(AGREEMENT_TRANSITIONS) == set(AGREEMENT_STATUSES)


@pytest.mark.parametrize("terminal", ["completed", "terminated", "expired", "cancelled"])
def test_terminal_statuses_lead_nowhere(terminal: str) -> None:
    assert allowed_agreement_targets(terminal) == ()


def test_signing_with_one_signatory_misses_a_condition() -> None:
    facts = AgreementFacts(party_roles=("signatory", "witness"), signed_on=dt.date(2023, 9, 4))

    assert missing_conditions("signed", facts, reason=None, on=None) == [
        "at least two parties with role 'signatory'"
    ]


def test_signing_date_may_come_from_the_transition() -> None:
    facts = AgreementFacts(party_roles=("signatory", "signatory"), signed_on=None)

    without = missing_conditions("signed", facts, reason=None, on=None)
    with_on = missing_conditions("signed", facts, reason=None, on=dt.date(2023, 9, 4))

    assert len(without) == 1
    assert with_on == []


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_termination_needs_a_real_reason(reason: str | None) -> None:
    assert missing_conditions("terminated", SIGNATORIES, reason=reason, on=None)


def test_other_moves_have_no_conditions() -> None:
    assert missing_conditions("active", SIGNATORIES, reason=None, on=None) == []
