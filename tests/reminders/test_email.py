"""Email reminders through a real SMTP server (aiosmtpd), sent by the pipeline's mail pump."""

from __future__ import annotations

import asyncio
import datetime as dt
from email.message import EmailMessage

from services.worker.sweep import sweep_once
from tests.api.legal_factories import create_contact, put_focal_points
from tests.api.tracking_factories import active_agreement, create_initiative, create_milestone
from tests.worker.conftest import eventually


async def agreement_with_focal_point(client, email: str = "ayesha.khan@stza.gov.pk"):  # type: ignore[no-untyped-def]
    agreement = await active_agreement(client)
    party = agreement["parties"][0]["organization_id"]
    contact = await create_contact(client, party, name="Ayesha Khan", email=email)
    response = await put_focal_points(client, agreement["id"], [(contact["id"], "focal_point")])
    assert response.status_code == 200, response.text
    return agreement, contact


async def overdue_milestone(client, agreement):  # type: ignore[no-untyped-def]
    initiative = await create_initiative(client, agreement)
    return await create_milestone(client, initiative["id"], due_on="2024-01-31")


async def sweep(client) -> None:  # type: ignore[no-untyped-def]
    await sweep_once(
        client.app.state.sessionmaker, client.settings, publisher=client.pipeline.publisher
    )


async def notifications(client, **params):  # type: ignore[no-untyped-def]
    response = await client.get("/v1/notifications", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def text_and_html(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


async def test_an_overdue_milestone_emails_its_focal_point_once(mail_client) -> None:
    agreement, contact = await agreement_with_focal_point(mail_client)
    milestone = await overdue_milestone(mail_client, agreement)

    await sweep(mail_client)
    await sweep(mail_client)
    [message] = await asyncio.to_thread(mail_client.mailbox.wait_for, 1)
    logged = await eventually(
        lambda: notifications(mail_client, contact_id=contact["id"]),
        lambda items: items and items[0]["status"] == "sent",
    )

    assert message["To"] == "Ayesha Khan <ayesha.khan@stza.gov.pk>"
    assert milestone["title"] in str(message["Subject"])
    assert [item["event_type"] for item in logged] == ["milestone.overdue"]
    assert len(mail_client.mailbox.messages) == 1


async def test_an_email_has_both_parts_the_dashboard_link_and_the_unsubscribe_headers(
    mail_client,
) -> None:
    agreement, _contact = await agreement_with_focal_point(mail_client)
    await overdue_milestone(mail_client, agreement)

    await sweep(mail_client)
    [message] = await asyncio.to_thread(mail_client.mailbox.wait_for, 1)
    text, html = text_and_html(message)
    link = f"https://accords.example.gov/app/agreements/{agreement['id']}"

    assert link in text and link in html
    assert message["List-Unsubscribe"].startswith("<https://accords.example.gov/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].startswith("<notification-")
    assert "Due: 2024-01-31" in text


async def test_an_email_carries_no_secret_but_its_unsubscribe_token(mail_client) -> None:
    agreement, _contact = await agreement_with_focal_point(mail_client)
    await overdue_milestone(mail_client, agreement)

    await sweep(mail_client)
    [message] = await asyncio.to_thread(mail_client.mailbox.wait_for, 1)
    text, html = text_and_html(message)
    everything = message.as_string() + text + html
    token = message["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]
    admin_key = mail_client.headers["Authorization"].split()[1]

    assert admin_key not in everything
    assert "whsec_" not in everything and "cal_" not in everything
    assert token in text and token in html


async def test_one_click_unsubscribe_by_post_stops_the_next_email(mail_client) -> None:
    agreement, _contact = await agreement_with_focal_point(mail_client)
    await overdue_milestone(mail_client, agreement)
    await sweep(mail_client)
    [message] = await asyncio.to_thread(mail_client.mailbox.wait_for, 1)
    path = "/unsubscribe/" + message["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]

    response = await mail_client.post(
        path, content="List-Unsubscribe=One-Click", headers={"Authorization": ""}
    )
    assert response.status_code == 200, response.text
    await overdue_milestone(mail_client, agreement)
    await sweep(mail_client)
    # A later email to someone else shows the pump has run past the new event.
    other, _ = await agreement_with_focal_point(mail_client, email="li.wei@gei.example.cn")
    await overdue_milestone(mail_client, other)
    await sweep(mail_client)
    messages = await asyncio.to_thread(mail_client.mailbox.wait_for, 2)

    assert [str(message["To"]) for message in messages] == [
        "Ayesha Khan <ayesha.khan@stza.gov.pk>",
        "Ayesha Khan <li.wei@gei.example.cn>",
    ]


async def test_a_get_of_the_unsubscribe_link_changes_nothing(mail_client) -> None:
    agreement, _contact = await agreement_with_focal_point(mail_client)
    await overdue_milestone(mail_client, agreement)
    await sweep(mail_client)
    [message] = await asyncio.to_thread(mail_client.mailbox.wait_for, 1)
    path = "/unsubscribe/" + message["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]

    page = await mail_client.get(path, headers={"Authorization": ""})
    await overdue_milestone(mail_client, agreement)
    await sweep(mail_client)
    messages = await asyncio.to_thread(mail_client.mailbox.wait_for, 2)

    assert page.status_code == 200
    assert '<form method="post"' in page.text
    assert len(messages) == 2


async def test_a_forged_unsubscribe_token_answers_404(mail_client) -> None:
    response = await mail_client.post(
        "/unsubscribe/0193aaaaaaaa7aaa8aaaaaaaaaaaaaaa.forged", headers={"Authorization": ""}
    )

    assert response.status_code == 404


async def test_a_subscription_in_a_daily_digest_sends_one_email_for_three_events(
    mail_client,
) -> None:
    agreement, contact = await agreement_with_focal_point(mail_client)
    response = await mail_client.post(
        "/v1/notification-subscriptions",
        json={
            "contact_id": contact["id"],
            "event_types": ["milestone.created"],
            "agreement_id": agreement["id"],
            "delivery": "daily_digest",
        },
    )
    assert response.status_code == 201, response.text
    initiative = await create_initiative(mail_client, agreement)
    for number in range(3):
        await create_milestone(mail_client, initiative["id"], title=f"Workshop {number}")
    waiting = await eventually(
        lambda: notifications(mail_client, contact_id=contact["id"]),
        lambda items: len(items) == 3,
    )
    due = dt.datetime.fromisoformat(waiting[0]["send_after"])

    from services.worker.mail import MailPump, SmtpSender, SmtpTarget

    pump = MailPump(
        mail_client.app.state.sessionmaker,
        mail_client.settings,
        clock=lambda: due + dt.timedelta(minutes=1),
    )
    sender = SmtpSender(
        SmtpTarget.from_url(mail_client.settings.smtp_url), timeout=5, tls_context=None
    )
    await pump.pass_once(sender)
    await sender.close()
    [message] = await asyncio.to_thread(mail_client.mailbox.wait_for, 1)
    text, _html = text_and_html(message)

    assert due.hour == mail_client.settings.digest_hour_utc
    assert all(f"Workshop {number}" in text for number in range(3))
    assert message["Message-ID"].startswith("<digest-")
    statuses = {
        item["status"] for item in await notifications(mail_client, contact_id=contact["id"])
    }
    assert statuses == {"sent"}
