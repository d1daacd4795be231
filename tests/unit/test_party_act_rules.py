"""The pure rules of party acts (shared.agreements.acts), without I/O."""

from __future__ import annotations

import datetime as dt
import uuid

from shared.agreements.acts import (
    Act,
    PartyDates,
    PartyStanding,
    awaiting_consent,
    order_problems,
    party_dates,
    signing_date,
)

D = dt.date


def _standing(role: str = "signatory", **dates: dt.date) -> PartyStanding:
    return PartyStanding(organization_id=uuid.uuid4(), role=role, dates=PartyDates(**dates))


def test_party_dates_take_the_latest_of_each_kind() -> None:
    acts = [
        Act("signature", D(2023, 9, 4)),
        Act("signature", D(2023, 9, 6)),
        Act("approval", D(2023, 10, 1)),
        Act("accession", D(2023, 11, 1)),
    ]

    assert party_dates(acts) == PartyDates(
        signed_on=D(2023, 9, 6), consented_on=D(2023, 11, 1), withdrawn_on=None
    )


def test_party_dates_as_of_a_day_leave_out_later_acts() -> None:
    acts = [Act("signature", D(2023, 9, 4)), Act("ratification", D(2024, 1, 1))]

    assert party_dates(acts, as_of=D(2023, 12, 31)) == PartyDates(signed_on=D(2023, 9, 4))


def test_acts_in_order_have_no_problem() -> None:
    acts = [
        Act("signature", D(2023, 9, 4)),
        Act("ratification", D(2023, 9, 4)),
        Act("withdrawal", D(2025, 1, 1)),
    ]

    assert order_problems(acts) == []


def test_a_consent_without_an_earlier_signature_is_a_problem() -> None:
    problems = order_problems([Act("signature", D(2023, 9, 5)), Act("acceptance", D(2023, 9, 4))])

    assert len(problems) == 1
    assert "an acceptance (on 2023-09-04) needs a signature" in problems[0]


def test_accession_stands_without_a_signature() -> None:
    assert order_problems([Act("accession", D(2024, 1, 1))]) == []


def test_an_act_after_the_withdrawal_is_a_problem() -> None:
    problems = order_problems([Act("withdrawal", D(2024, 1, 1)), Act("accession", D(2024, 1, 2))])

    assert problems == [
        "nothing can follow a withdrawal: the party withdrew on 2024-01-01, "
        "and an accession is dated 2024-01-02"
    ]


def test_an_act_on_the_withdrawal_day_is_not_after_it() -> None:
    assert order_problems([Act("signature", D(2024, 1, 1)), Act("withdrawal", D(2024, 1, 1))]) == []


def test_a_second_withdrawal_is_a_problem() -> None:
    problems = order_problems([Act("withdrawal", D(2024, 1, 1)), Act("withdrawal", D(2024, 1, 1))])

    assert any("withdraws only once" in problem for problem in problems)


def test_the_signing_date_is_the_later_of_two_signatures() -> None:
    parties = [
        _standing(signed_on=D(2023, 9, 4)),
        _standing(signed_on=D(2023, 9, 6)),
        _standing(role="witness", signed_on=D(2023, 9, 9)),
    ]

    assert signing_date(parties) == D(2023, 9, 6)


def test_one_signature_dates_no_signing() -> None:
    assert signing_date([_standing(signed_on=D(2023, 9, 4)), _standing()]) is None


def test_a_withdrawn_signatory_does_not_count_towards_the_signing() -> None:
    parties = [
        _standing(signed_on=D(2023, 9, 4)),
        _standing(signed_on=D(2023, 9, 6), withdrawn_on=D(2023, 9, 7)),
    ]

    assert signing_date(parties) is None


def test_a_binding_agreement_awaits_every_signatory_yet_to_consent() -> None:
    consented = _standing(consented_on=D(2024, 1, 1))
    waiting = _standing(signed_on=D(2023, 9, 4))
    funder = _standing(role="funder")

    assert awaiting_consent("binding", [consented, waiting, funder]) == [waiting.organization_id]


def test_a_non_binding_agreement_awaits_no_consent() -> None:
    assert awaiting_consent("non_binding", [_standing(), _standing()]) == []
