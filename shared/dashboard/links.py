"""Links into the dashboard, written once: what a mail, a calendar entry or a
dashboard redirect points at is the page the dashboard serves (``/app``)."""

from __future__ import annotations

import uuid

PREFIX = "/app"


def agreement_path(agreement_id: uuid.UUID | str | None) -> str:
    """The dashboard page of an agreement; the portfolio when there is none."""
    return f"{PREFIX}/agreements/{agreement_id}" if agreement_id else f"{PREFIX}/"


def agreement_url(public_url: str, agreement_id: uuid.UUID | str | None) -> str:
    """:func:`agreement_path` under the deployment's public URL (for mails and feeds)."""
    return public_url.rstrip("/") + agreement_path(agreement_id)
