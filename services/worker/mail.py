"""The mail pump: sends due notifications through SMTP (aiosmtplib) and records the outcome.

``ACCORDS_SMTP_URL`` is ``smtp://[user:pass@]host:port`` (STARTTLS when the
server offers it) or ``smtps://`` (implicit TLS). Without it nothing is sent
and notifications stay ``held``; once it is set they are released and sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

import aiosmtplib
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import create_autocommit_sessionmaker, utcnow
from shared.notifications.mailing import (
    MailJob,
    claim_due,
    record_failure,
    record_sent,
    release_held,
)
from shared.notifications.render import digest_email, notification_email
from shared.notifications.rules import unsubscribe_token
from shared.secret_box import SecretKeyMissing, key_material
from shared.settings import Settings

log = structlog.get_logger("accords.worker.mail")

BATCH = 50
IDLE_SECONDS = 1.0
# SMTP connections one pump keeps open; each sends its share of a batch in turn.
CONNECTIONS = 4


@dataclass(frozen=True)
class SmtpTarget:
    hostname: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("ACCORDS_SMTP_URL must look like smtp://host:port or smtps://host")
        implicit = parts.scheme == "smtps"
        return cls(
            hostname=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
        )

    def describe(self) -> str:
        """Where mail goes, without the credentials (safe to log)."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        return f"{scheme}://{self.hostname}:{self.port}"


class SmtpSender:
    """One SMTP connection per batch of messages; reconnects after a failure."""

    def __init__(self, target: SmtpTarget, *, timeout: float, tls_context: ssl.SSLContext | None):
        self.target = target
        self.timeout = timeout
        self.tls_context = tls_context
        self._client: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        client = aiosmtplib.SMTP(
            hostname=self.target.hostname,
            port=self.target.port,
            use_tls=self.target.implicit_tls,
            # None: STARTTLS when the server offers it, plain otherwise.
            start_tls=False if self.target.implicit_tls else None,
            username=self.target.username,
            password=self.target.password,
            timeout=self.timeout,
            tls_context=self.tls_context,
        )
        await client.connect()
        self._client = client
        return client

    async def send(self, message: Message) -> None:
        """Send one message; raises on anything but the server's acceptance."""
        _, sender = parseaddr(str(message["From"]))
        _, recipient = parseaddr(str(message["To"]))
        # Flattened here, with the message's own policy (headers kept on one line).
        raw = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        try:
            client = await self._connected()
            await client.sendmail(sender, [recipient], raw)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()


class MailPump:
    """Claims due notifications, sends them, records each outcome; runs until
    :meth:`stop` (after the pass under way) or until cancelled."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        tls_context: ssl.SSLContext | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.tls_context = tls_context
        self.clock = clock
        # One statement each (the acceptance record): no BEGIN / COMMIT round trips.
        self.single_statements = create_autocommit_sessionmaker(sessionmaker.kw["bind"])
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._token_secret = ""

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Return once the pass under way has recorded its outcomes (on the pump's loop)."""
        self._stopping.set()
        self._wake.set()

    @property
    def lease(self) -> dt.timedelta:
        # Each send is bounded by the SMTP timeout; a batch is sent one message
        # at a time, so the lease must cover a batch of the slowest sends.
        return dt.timedelta(seconds=self.settings.mail_lease_seconds)

    async def run(self) -> None:
        if not self.settings.smtp_url:
            log.info("mail_held", reason="ACCORDS_SMTP_URL is not set")
            return
        try:
            self._token_secret = key_material(
                self.settings, missing="unsubscribe links are signed with ACCORDS_SECRET_KEY"
            )
        except SecretKeyMissing:
            log.error("mail_disabled", reason="ACCORDS_SECRET_KEY is not set")
            return
        target = SmtpTarget.from_url(self.settings.smtp_url)
        senders = [
            SmtpSender(
                target, timeout=self.settings.smtp_timeout_seconds, tls_context=self.tls_context
            )
            for _ in range(CONNECTIONS)
        ]
        log.info("mail_pump_started", smtp=target.describe())
        async with self.sessionmaker() as session:
            await release_held(session)
            await session.commit()
        try:
            while not self._stopping.is_set():
                try:
                    sent = await self.pass_once(*senders)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning("mail_pass_failed", exc_info=True)
                    sent = 0
                if sent < BATCH and not self._stopping.is_set():
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), IDLE_SECONDS)
        finally:
            for sender in senders:
                await sender.close()

    async def pass_once(self, *senders: SmtpSender) -> int:
        """Claim one batch and send it over ``senders`` (each connection sends its
        share one message at a time); the number of emails sent or attempted."""
        now = self.clock()
        async with self.sessionmaker() as session:
            jobs = await claim_due(session, now=now, lease=self.lease, limit=BATCH)
            await session.commit()

        async def send_share(sender: SmtpSender, share: list[MailJob]) -> None:
            for job in share:
                await self._send(sender, job)

        await asyncio.gather(
            *(
                send_share(sender, jobs[index :: len(senders)])
                for index, sender in enumerate(senders)
            )
        )
        return len(jobs)

    def _message(self, job: MailJob, now: dt.datetime) -> Message:
        lead = job.notification_ids[0]
        common = {
            "recipient": (job.recipient.name, job.recipient.email),
            "languages": job.recipient.languages,
            "mail_from": self.settings.mail_from,
            "public_url": self.settings.public_url,
            "token": unsubscribe_token(lead, secret=self._token_secret),
            "now": now,
        }
        if job.digest:
            return digest_email(
                job.notices, lead_id=lead, day=job.first_created_at.date(), **common
            )
        return notification_email(job.notices[0], notification_id=lead, **common)

    async def _send(self, sender: SmtpSender, job: MailJob) -> None:
        now = self.clock()
        message = self._message(job, now)
        try:
            await sender.send(message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            error = _describe(exc)
            async with self.sessionmaker() as session:
                await record_failure(
                    session,
                    job.notification_ids,
                    error=error,
                    now=self.clock(),
                    schedule=self.settings.mail_retry_schedule,
                )
                await session.commit()
            log.info("mail_failed", notifications=len(job.notification_ids), error=error)
            return
        # The one window for a second send: between the server's 250 and this
        # statement (one round trip; it commits by itself on PostgreSQL).
        async with self.single_statements() as session:
            await record_sent(
                session, job.notification_ids, message_id=message["Message-ID"], now=self.clock()
            )
            await session.commit()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"SMTP {exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
