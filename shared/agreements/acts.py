"""Pure rules of party acts: what each party's acts say, and the order they
must keep. No I/O; the service feeds them rows and turns answers into problems.

The choices SPEC §10 left open, written down:

- "Nothing after withdrawal" is strict: an act dated the same day as the
  withdrawal is accepted (the record keeps same-day acts in any order), one
  dated later is refused, and a party withdraws at most once.
- A withdrawn signatory no longer counts: not towards the two signatures
  that date a signing, nor among those whose consent a binding agreement
  waits for.
- Acts are dated in the past or today (checked on the request body): the
  record is of what happened.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SIGNATURE = "signature"
WITHDRAWAL = "withdrawal"
ACCESSION = "accession"
# Consent to be bound; all but accession rest on an earlier signature.
CONSENTS_AFTER_SIGNATURE = ("ratification", "acceptance", "approval")
CONSENT_ACTS = (*CONSENTS_AFTER_SIGNATURE, ACCESSION)
ACTS = (SIGNATURE, *CONSENT_ACTS, WITHDRAWAL)


@dataclass(frozen=True)
class Act:
    """One act of one party."""

    act: str
    on: dt.date


@dataclass(frozen=True)
class PartyDates:
    """What a party's acts say, as each party entry of an agreement read shows it."""

    signed_on: dt.date | None = None
    consented_on: dt.date | None = None
    withdrawn_on: dt.date | None = None


def party_dates(acts: Iterable[Act], *, as_of: dt.date | None = None) -> PartyDates:
    """The latest signature, consent and withdrawal among ``acts`` (those on or
    before ``as_of`` when given)."""

    def latest(kinds: Sequence[str]) -> dt.date | None:
        dates = [act.on for act in chosen if act.act in kinds]
        return max(dates) if dates else None

    chosen = [act for act in acts if as_of is None or act.on <= as_of]
    return PartyDates(
        signed_on=latest((SIGNATURE,)),
        consented_on=latest(CONSENT_ACTS),
        withdrawn_on=latest((WITHDRAWAL,)),
    )


def _a(act: str) -> str:
    return f"an {act}" if act[0] in "aeiou" else f"a {act}"


def order_problems(acts: Iterable[Act]) -> list[str]:
    """Why one party's acts, taken together, cannot stand (empty when they can).

    Recording an act checks the party's acts with it; deleting one checks
    them without it (a consent cannot lose the signature it rests on).
    """
    acts = sorted(acts, key=lambda act: act.on)
    problems: list[str] = []
    withdrawals = [act for act in acts if act.act == WITHDRAWAL]
    if len(withdrawals) > 1:
        problems.append("a party withdraws only once; it has already withdrawn")
    if withdrawals:
        withdrawn_on = withdrawals[0].on
        late = [act for act in acts if act.act != WITHDRAWAL and act.on > withdrawn_on]
        if late:
            problems.append(
                f"nothing can follow a withdrawal: the party withdrew on {withdrawn_on}, "
                f"and {_a(late[0].act)} is dated {late[0].on}"
            )
    signatures = [act.on for act in acts if act.act == SIGNATURE]
    unsigned = [
        act
        for act in acts
        if act.act in CONSENTS_AFTER_SIGNATURE
        and not any(signed_on <= act.on for signed_on in signatures)
    ]
    if unsigned:
        problems.append(
            f"{_a(unsigned[0].act)} (on {unsigned[0].on}) needs a signature on or before it; "
            "a party that did not sign consents by accession"
        )
    return problems


@dataclass(frozen=True)
class PartyStanding:
    """A party of an agreement with its role and the dates of its acts."""

    organization_id: uuid.UUID
    role: str
    dates: PartyDates


def _acting_signatories(parties: Iterable[PartyStanding]) -> list[PartyStanding]:
    return [
        party for party in parties if party.role == "signatory" and party.dates.withdrawn_on is None
    ]


def signing_date(parties: Iterable[PartyStanding]) -> dt.date | None:
    """The date an agreement was signed, from its acts: the latest signature
    of its signatories once two or more have signed (else ``None``)."""
    dates = [
        party.dates.signed_on
        for party in _acting_signatories(parties)
        if party.dates.signed_on is not None
    ]
    return max(dates) if len(dates) >= 2 else None


def awaiting_consent(legal_character: str, parties: Iterable[PartyStanding]) -> list[uuid.UUID]:
    """The signatories whose consent a move to ``active`` still waits for: every
    one of a ``binding`` agreement's that has not consented; none for a
    ``non_binding`` one (its signatures are enough)."""
    if legal_character != "binding":
        return []
    return [
        party.organization_id
        for party in _acting_signatories(parties)
        if party.dates.consented_on is None
    ]
