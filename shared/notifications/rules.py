"""Pure rules of reminders: who is reminded by default, when a notification is sent,
what an email says, and the one-click unsubscribe token."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.dashboard.links import agreement_url

# Focal points of an agreement receive these unless they unsubscribed (SPEC 12).
REMINDER_TYPES = (
    "agreement.expiring",
    "milestone.overdue",
    "report.due",
    "report.overdue",
    "agreement.amended",
)
DELIVERIES = ("immediate", "daily_digest")
NOTIFICATION_STATUSES = ("pending", "sent", "failed", "held")

# Opt-out scopes: every reminder of one agreement, one subscription, or everything.
ALL_SCOPE = "all"


def agreement_scope(agreement_id: uuid.UUID) -> str:
    return f"agreement:{agreement_id}"


def subscription_scope(subscription_id: uuid.UUID) -> str:
    return f"subscription:{subscription_id}"


def expiry_windows(days_before: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Each lead time -> the days-left window its notice covers.

    ``[90, 30, 7]`` gives 7: (0, 7), 30: (8, 30), 90: (31, 90): a shorter notice
    supersedes a longer one the sweep had no chance to send (the service was
    down, or the agreement was created inside the window).
    """
    windows: dict[int, tuple[int, int]] = {}
    lower = 0
    for days in sorted({day for day in days_before if day >= 0}):
        windows[days] = (lower, days)
        lower = days + 1
    return windows


def send_after(delivery: str, created_at: dt.datetime, *, digest_hour_utc: int) -> dt.datetime:
    """When a notification becomes due: now, or the next digest hour for a daily digest."""
    if delivery != "daily_digest":
        return created_at
    at_hour = created_at.replace(hour=digest_hour_utc, minute=0, second=0, microsecond=0)
    return at_hour if at_hour > created_at else at_hour + dt.timedelta(days=1)


def retry_at(now: dt.datetime, attempts: int, schedule: list[int]) -> dt.datetime | None:
    """When to try again after ``attempts`` failed sends, or None: give up (``failed``)."""
    if attempts >= len(schedule):
        return None
    return now + dt.timedelta(seconds=schedule[attempts])


@dataclass(frozen=True)
class Notice:
    """What one notification says, in words a person reads."""

    subject: str
    headline: str
    details: list[str] = field(default_factory=list)
    due_on: str | None = None
    link: str | None = None


def _text(data: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = data.get(name)
        if value:
            return str(value)
    return ""


def describe(
    event_type: str, data: Mapping[str, Any], *, agreement_reference: str | None, public_url: str
) -> Notice:
    """The subject and lines of a notification about one event."""
    agreement_id = data.get("agreement_id") or (
        data.get("id") if event_type.startswith("agreement.") else None
    )
    link = agreement_url(public_url, agreement_id)
    about = agreement_reference or _text(data, "reference")
    suffix = f" ({about})" if about else ""
    title = _text(data, "title", "name")
    if event_type == "agreement.expiring":
        days = data.get("days_left", data.get("days_before_expiry"))
        return Notice(
            subject=f"{about or 'An agreement'} expires in {days} days",
            headline=f"{title}{suffix} expires on {data.get('expires_on')}.",
            details=["Renew it with an amendment, or plan its close-out."],
            due_on=data.get("expires_on"),
            link=link,
        )
    if event_type == "milestone.overdue":
        return Notice(
            subject=f"Milestone overdue: {title}{suffix}",
            headline=f"The milestone '{title}' was due on {data.get('due_on')} and is not done.",
            details=[f"It is {data.get('days_overdue', '?')} days overdue."],
            due_on=data.get("due_on"),
            link=link,
        )
    if event_type in ("report.due", "report.overdue"):
        state = "is due" if event_type == "report.due" else "is overdue"
        period = f"{data.get('period_start')} to {data.get('period_end')}"
        return Notice(
            subject=f"Progress report {state}{suffix}",
            headline=f"The progress report for {period} {state} (due on {data.get('due_on')}).",
            due_on=data.get("due_on"),
            link=link,
        )
    if event_type == "agreement.amended":
        return Notice(
            subject=f"{about or 'An agreement'} was amended",
            headline=f"{title}{suffix} was amended; its terms changed.",
            link=link,
        )
    readable = event_type.replace(".", " ").replace("_", " ")
    return Notice(
        subject=f"{readable.capitalize()}: {title}{suffix}" if title else readable.capitalize(),
        headline=f"{readable.capitalize()}: {title}." if title else f"{readable.capitalize()}.",
        due_on=_text(data, "due_on") or None,
        link=link,
    )


_TOKEN_INFO = b"accords unsubscribe v1"


def _token_key(secret: str) -> bytes:
    # Domain separation: this key signs unsubscribe tokens and nothing else.
    return hmac.new(secret.encode("utf-8"), _TOKEN_INFO, hashlib.sha256).digest()


def unsubscribe_token(notification_id: uuid.UUID, *, secret: str) -> str:
    """The single-purpose, unguessable token of a notification's unsubscribe link."""
    mac = hmac.new(_token_key(secret), notification_id.bytes, hashlib.sha256).digest()[:20]
    return notification_id.hex + "." + base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def read_unsubscribe_token(token: str, *, secret: str) -> uuid.UUID | None:
    """The notification a token was made for, or None when it is not one of ours."""
    identifier, _, _ = token.partition(".")
    try:
        notification_id = uuid.UUID(hex=identifier)
    except ValueError:
        return None
    expected = unsubscribe_token(notification_id, secret=secret)
    return notification_id if hmac.compare_digest(expected, token) else None
