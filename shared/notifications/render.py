"""Emails from notices: Jinja2 templates per language (text and HTML parts) and headers.

Templates live in ``templates/<language>/``; a contact's first language with
a folder there is used, else English. Adding a language is adding a folder.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shared.notifications.rules import Notice

TEMPLATES = Path(__file__).with_name("templates")
DEFAULT_LANGUAGE = "en"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def language_for(languages: Sequence[str] | None) -> str:
    """The first of a contact's languages (BCP 47) that has templates, else English."""
    for tag in languages or ():
        for candidate in (tag, tag.split("-", 1)[0]):
            if candidate and (TEMPLATES / candidate).is_dir():
                return candidate
    return DEFAULT_LANGUAGE


def message_id(key: str, *, mail_from: str, public_url: str) -> str:
    """A ``Message-ID`` that is the same every time the same notification is sent."""
    _, address = parseaddr(mail_from)
    domain = address.rpartition("@")[2] or urlsplit(public_url).hostname or "accords.invalid"
    return f"<{key}@{domain}>"


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/unsubscribe/{token}"


def _message(
    *,
    subject: str,
    text: str,
    html: str,
    recipient: tuple[str, str],
    mail_from: str,
    key: str,
    public_url: str,
    unsubscribe: str,
    now: dt.datetime,
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = mail_from
    message["To"] = formataddr(recipient)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(key, mail_from=mail_from, public_url=public_url)
    # RFC 8058 one-click unsubscribe: mail clients POST to the URL.
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def notification_email(
    notice: Notice,
    *,
    notification_id: uuid.UUID,
    recipient: tuple[str, str],
    languages: Sequence[str] | None,
    mail_from: str,
    public_url: str,
    token: str,
    now: dt.datetime,
) -> EmailMessage:
    """One notification as one email."""
    language = language_for(languages)
    unsubscribe = unsubscribe_url(public_url, token)
    context = {"notice": notice, "unsubscribe_url": unsubscribe}
    environment = _environment()
    return _message(
        subject=notice.subject,
        text=environment.get_template(f"{language}/notification.txt").render(context),
        html=environment.get_template(f"{language}/notification.html").render(context),
        recipient=recipient,
        mail_from=mail_from,
        key=f"notification-{notification_id}",
        public_url=public_url,
        unsubscribe=unsubscribe,
        now=now,
    )


def digest_email(
    notices: Sequence[Notice],
    *,
    lead_id: uuid.UUID,
    day: dt.date,
    recipient: tuple[str, str],
    languages: Sequence[str] | None,
    mail_from: str,
    public_url: str,
    token: str,
    now: dt.datetime,
) -> EmailMessage:
    """A contact's digest: several notifications in one email, keyed by its first one."""
    language = language_for(languages)
    unsubscribe = unsubscribe_url(public_url, token)
    subject = f"Accords reminders of {day.isoformat()}: {len(notices)} updates"
    context = {
        "notices": notices,
        "day": day.isoformat(),
        "subject": subject,
        "unsubscribe_url": unsubscribe,
    }
    environment = _environment()
    return _message(
        subject=subject,
        text=environment.get_template(f"{language}/digest.txt").render(context),
        html=environment.get_template(f"{language}/digest.html").render(context),
        recipient=recipient,
        mail_from=mail_from,
        key=f"digest-{lead_id}",
        public_url=public_url,
        unsubscribe=unsubscribe,
        now=now,
    )
