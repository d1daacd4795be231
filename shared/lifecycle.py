"""State machines of agreements and initiatives: pure rules, no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

AGREEMENT_STATUSES = (
    "draft",
    "negotiation",
    "signed",
    "active",
    "suspended",
    "completed",
    "terminated",
    "expired",
    "cancelled",
)

AGREEMENT_TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    "draft": ("negotiation", "cancelled"),
    "negotiation": ("signed", "cancelled"),
    "signed": ("active", "expired"),
    "active": ("suspended", "completed", "terminated", "expired"),
    "suspended": ("active", "completed", "terminated"),
    "completed": (),
    "terminated": (),
    "expired": (),
    "cancelled": (),
}

INITIATIVE_STATUSES = ("planned", "in_progress", "on_hold", "completed", "cancelled")
INITIATIVE_OPEN_STATUSES = ("planned", "in_progress", "on_hold")

INITIATIVE_TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    "planned": ("in_progress", "cancelled"),
    "in_progress": ("on_hold", "completed", "cancelled"),
    "on_hold": ("in_progress", "cancelled"),
    "completed": (),
    "cancelled": (),
}


def allowed_agreement_targets(current: str) -> tuple[str, ...]:
    return AGREEMENT_TRANSITIONS.get(current, ())


def allowed_initiative_targets(current: str) -> tuple[str, ...]:
    return INITIATIVE_TRANSITIONS.get(current, ())


@dataclass(frozen=True)
class AgreementFacts:
    """What the transition rules need to know about an agreement."""

    party_roles: tuple[str, ...]
    signed_on: dt.date | None


def missing_conditions(
    target: str, facts: AgreementFacts, *, reason: str | None, on: dt.date | None
) -> list[str]:
    """The conditions that block moving an agreement to ``target`` (empty when none)."""
    missing: list[str] = []
    if target == "signed":
        if sum(1 for role in facts.party_roles if role == "signatory") < 2:
            missing.append("at least two parties with role 'signatory'")
        if facts.signed_on is None and on is None:
            missing.append(
                "'signed_on' on the agreement, or 'on' in the transition, "
                "or signature acts of two signatories"
            )
    if target == "terminated" and not (reason and reason.strip()):
        missing.append("a 'reason' for termination")
    return missing


def cascade_for_agreement_move(target: str) -> Mapping[str, str]:
    """How open initiatives follow their agreement: ``{from_status: to_status}``."""
    if target == "suspended":
        return {"planned": "on_hold", "in_progress": "on_hold"}
    if target == "terminated":
        return {status: "cancelled" for status in INITIATIVE_OPEN_STATUSES}
    return {}


def is_terminal(status: str, transitions: Mapping[str, Iterable[str]]) -> bool:
    return not tuple(transitions.get(status, ()))


@dataclass(frozen=True)
class CascadedStatus:
    """Where an initiative goes when its agreement moves, and what to remember."""

    status: str
    paused_from_status: str | None


def initiative_cascade(
    *, agreement_from: str, agreement_to: str, status: str, paused_from_status: str | None
) -> CascadedStatus | None:
    """How one initiative follows its agreement's move; ``None`` when it stays as it is.

    Suspension pauses open initiatives and remembers where each was; resuming
    (``suspended -> active``) restores exactly those, and leaves alone what the
    suspension did not pause (an initiative already on hold stays on hold).
    Termination cancels whatever is still open.
    """
    if agreement_from == "suspended" and agreement_to == "active":
        if status == "on_hold" and paused_from_status is not None:
            return CascadedStatus(status=paused_from_status, paused_from_status=None)
        return None
    moves = cascade_for_agreement_move(agreement_to)
    target = moves.get(status)
    if target is None:
        if paused_from_status is not None and agreement_to != "suspended":
            # The agreement left suspension some other way: nothing to restore.
            return CascadedStatus(status=status, paused_from_status=None)
        return None
    remembered = status if agreement_to == "suspended" else None
    return CascadedStatus(status=target, paused_from_status=remembered)


MILESTONE_STATUSES = ("pending", "in_progress", "done", "cancelled")

RESEARCH_STATUSES = ("proposed", "active", "concluded", "cancelled")
RESEARCH_TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    "proposed": ("active", "cancelled"),
    "active": ("concluded", "cancelled"),
    "concluded": (),
    "cancelled": (),
}


def allowed_research_targets(current: str) -> tuple[str, ...]:
    return RESEARCH_TRANSITIONS.get(current, ())
