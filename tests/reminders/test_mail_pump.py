"""The mail pump against real SMTP servers: held mail, retries, failures."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.api.app import create_app
from services.worker.embedded import EmbeddedPipeline
from services.worker.mail import MailPump, SmtpSender, SmtpTarget
from shared.db import utcnow
from shared.notifications.mailing import release_held
from shared.settings import Settings
from tests.conftest import client_for, make_key
from tests.reminders.conftest import mail_settings
from tests.reminders.smtp import dropping_server, smtp_server
from tests.reminders.test_email import (
    agreement_with_focal_point,
    notifications,
    overdue_milestone,
    sweep,
)
from tests.worker.conftest import eventually


@pytest.fixture
async def held_client(settings: Settings, engine: Any) -> AsyncIterator[Any]:
    """A pipeline without SMTP: notifications are written and kept `held`."""
    configured = mail_settings(settings, "")
    pipeline = EmbeddedPipeline(configured, threads=2, sweep=False, max_retries=1, min_backoff=10)
    pipeline.start()
    try:
        application = create_app(configured, after_commit=pipeline.after_commit)
        async with application.router.lifespan_context(application):
            key = await make_key(application, ["admin"])
            async with client_for(application, key) as admin:
                admin.app = application  # type: ignore[attr-defined]
                admin.pipeline = pipeline  # type: ignore[attr-defined]
                admin.settings = configured  # type: ignore[attr-defined]
                yield admin
    finally:
        pipeline.stop()


async def held_notification(client) -> dict:  # type: ignore[no-untyped-def]
    agreement, contact = await agreement_with_focal_point(client)
    await overdue_milestone(client, agreement)
    await sweep(client)
    [notification] = await eventually(
        lambda: notifications(client, contact_id=contact["id"]), lambda items: len(items) == 1
    )
    return notification


def pump_for(client, smtp_url: str, **overrides: Any) -> MailPump:  # type: ignore[no-untyped-def]
    return MailPump(
        client.app.state.sessionmaker,
        client.settings.model_copy(update={"smtp_url": smtp_url, **overrides}),
    )


async def test_without_smtp_notifications_are_held(held_client) -> None:
    notification = await held_notification(held_client)

    assert notification["status"] == "held"
    assert notification["attempts"] == 0


async def test_held_notifications_are_sent_once_smtp_is_configured(held_client) -> None:
    notification = await held_notification(held_client)

    with smtp_server() as (url, mailbox, _handler):
        task = asyncio.create_task(pump_for(held_client, url).run())
        try:
            [message] = await asyncio.to_thread(mailbox.wait_for, 1)
            [logged] = await eventually(
                lambda: notifications(held_client, contact_id=notification["contact_id"]),
                lambda items: items[0]["status"] == "sent",
            )
        finally:
            task.cancel()

    assert message["Message-ID"] == logged["message_id"]


async def test_a_451_is_retried_and_the_mail_arrives_once(held_client) -> None:
    notification = await held_notification(held_client)

    with smtp_server(["451 4.3.0 Mailbox busy, try again"]) as (url, mailbox, _handler):
        task = asyncio.create_task(pump_for(held_client, url).run())
        try:
            [logged] = await eventually(
                lambda: notifications(held_client, contact_id=notification["contact_id"]),
                lambda items: items[0]["status"] == "sent",
            )
        finally:
            task.cancel()

    assert mailbox.data_commands == 2
    assert len(mailbox.messages) == 1
    assert logged["attempts"] == 1


async def test_a_dropped_connection_is_retried_then_marked_failed(held_client) -> None:
    notification = await held_notification(held_client)
    moments = iter(utcnow() + dt.timedelta(minutes=minutes) for minutes in range(100))

    with dropping_server() as (url, connections):
        pump = pump_for(held_client, url)
        pump.clock = lambda: next(moments)
        async with held_client.app.state.sessionmaker() as session:
            await release_held(session)
            await session.commit()
        sender = SmtpSender(SmtpTarget.from_url(url), timeout=5, tls_context=None)
        for _ in range(4):
            await pump.pass_once(sender)
        await sender.close()
    [logged] = await notifications(held_client, contact_id=notification["contact_id"])

    assert logged["status"] == "failed"
    assert logged["attempts"] == len(held_client.settings.mail_retry_schedule)
    assert len(connections) == 3
    assert logged["last_error"]
