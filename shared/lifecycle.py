"""Statuses and state machines of agreements, initiatives, milestones, reports
and research collaborations: pure rules, no I/O.

Each status set is written once, here, as a ``Literal`` (what the schemas
declare, so the OpenAPI enums come from it) and the tuple derived from it
(what the code and the SQL filters use).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from shared.errors import InvalidTransition

AgreementStatus = Literal[
    "draft",
    "negotiation",
    "signed",
    "active",
    "suspended",
    "completed",
    "terminated",
    "expired",
    "cancelled",
]
AGREEMENT_STATUSES: tuple[AgreementStatus, ...] = get_args(AgreementStatus)

AGREEMENT_TRANSITIONS: Mapping[str, tuple[AgreementStatus, ...]] = {
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

# Nothing more happens to an agreement in these: no transition leaves them.
AGREEMENT_CLOSED_STATUSES: tuple[AgreementStatus, ...] = tuple(
    status for status in AGREEMENT_STATUSES if not AGREEMENT_TRANSITIONS[status]
)

# In force: reports are opened for them and their expiry is announced.
AGREEMENT_LIVE_STATUSES: tuple[AgreementStatus, ...] = ("signed", "active", "suspended")
# The ones the sweep moves to ``expired`` once ``expires_on`` has passed: those it may leave for it.
AGREEMENT_EXPIRABLE_STATUSES: tuple[AgreementStatus, ...] = tuple(
    status for status in AGREEMENT_STATUSES if "expired" in AGREEMENT_TRANSITIONS[status]
)
# Watched for dormancy (a suspended agreement is quiet on purpose).
AGREEMENT_DORMANCY_STATUSES: tuple[AgreementStatus, ...] = ("signed", "active")

InitiativeStatus = Literal["planned", "in_progress", "on_hold", "completed", "cancelled"]
INITIATIVE_STATUSES: tuple[InitiativeStatus, ...] = get_args(InitiativeStatus)
INITIATIVE_OPEN_STATUSES: tuple[InitiativeStatus, ...] = ("planned", "in_progress", "on_hold")

INITIATIVE_TRANSITIONS: Mapping[str, tuple[InitiativeStatus, ...]] = {
    "planned": ("in_progress", "cancelled"),
    "in_progress": ("on_hold", "completed", "cancelled"),
    "on_hold": ("in_progress", "cancelled"),
    "completed": (),
    "cancelled": (),
}


def check_move(
    what: str, transitions: Mapping[str, tuple[str, ...]], current: str, target: str
) -> None:
    """Refuse a move its state machine has no edge for (``what``: "An agreement", ...):
    409 ``invalid-transition``, naming the statuses that may follow ``current``."""
    allowed = transitions.get(current, ())
    if target not in allowed:
        raise InvalidTransition(
            f"{what} cannot move from {current} to {target}.", allowed=list(allowed)
        )


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


MilestoneStatus = Literal["pending", "in_progress", "done", "cancelled"]
MILESTONE_STATUSES: tuple[MilestoneStatus, ...] = get_args(MilestoneStatus)
# Finished with, one way or the other: never overdue, not due soon.
MILESTONE_CLOSED_STATUSES: tuple[MilestoneStatus, ...] = ("done", "cancelled")


def milestone_is_overdue(status: str, due_on: dt.date, today: dt.date) -> bool:
    """The overdue rule: not done or cancelled, and due before today.

    Never stored; :func:`shared.milestones.service.overdue_condition` is its
    SQL form, built from the same :data:`MILESTONE_CLOSED_STATUSES`.
    """
    return status not in MILESTONE_CLOSED_STATUSES and due_on < today


ResearchStatus = Literal["proposed", "active", "concluded", "cancelled"]
RESEARCH_STATUSES: tuple[ResearchStatus, ...] = get_args(ResearchStatus)
RESEARCH_TRANSITIONS: Mapping[str, tuple[ResearchStatus, ...]] = {
    "proposed": ("active", "cancelled"),
    "active": ("concluded", "cancelled"),
    "concluded": (),
    "cancelled": (),
}


def allowed_research_targets(current: str) -> tuple[str, ...]:
    return RESEARCH_TRANSITIONS.get(current, ())


ReportStatus = Literal["open", "submitted", "accepted", "returned"]
REPORT_STATUSES: tuple[ReportStatus, ...] = get_args(ReportStatus)
REPORT_TRANSITIONS: Mapping[str, tuple[ReportStatus, ...]] = {
    "open": ("submitted",),
    "submitted": ("accepted", "returned"),
    "returned": ("submitted",),
    "accepted": (),
}
# Still owed by the reporter: its text may change, and it is overdue past ``due_on``.
REPORT_OPEN_STATUSES: tuple[ReportStatus, ...] = ("open", "returned")


def report_is_overdue(status: str, due_on: dt.date, today: dt.date) -> bool:
    """The report overdue rule: open or returned, and due before today.

    Never stored; :func:`shared.reports.service.overdue_condition` is its SQL
    form, built from the same :data:`REPORT_OPEN_STATUSES`.
    """
    return status in REPORT_OPEN_STATUSES and due_on < today
