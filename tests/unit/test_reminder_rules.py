"""Pure rules of reminders: lead-time windows, digest timing, retries, tokens, notices."""

from __future__ import annotations

import datetime as dt
import uuid

from shared.notifications.rules import (
    describe,
    expiry_windows,
    read_unsubscribe_token,
    retry_at,
    send_after,
    unsubscribe_token,
)

NOON = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def test_expiry_windows_cover_every_day_up_to_the_longest_lead_time() -> None:
    assert expiry_windows([90, 30, 7]) == {7: (0, 7), 30: (8, 30), 90: (31, 90)}


def test_expiry_windows_ignore_duplicates_and_negative_days() -> None:
    assert expiry_windows([30, 30, -1]) == {30: (0, 30)}


def test_an_immediate_notification_is_due_when_written() -> None:
    assert send_after("immediate", NOON, digest_hour_utc=7) == NOON


def test_a_digest_notification_waits_for_the_next_digest_hour() -> None:
    assert send_after("daily_digest", NOON, digest_hour_utc=7) == dt.datetime(
        2026, 12, 2, 7, 0, tzinfo=dt.UTC
    )


def test_a_digest_written_before_the_hour_goes_out_the_same_day() -> None:
    early = NOON.replace(hour=5)

    assert send_after("daily_digest", early, digest_hour_utc=7) == NOON.replace(hour=7)


def test_retries_follow_the_schedule_then_give_up() -> None:
    schedule = [0, 60, 300]

    assert retry_at(NOON, 1, schedule) == NOON + dt.timedelta(seconds=60)
    assert retry_at(NOON, 2, schedule) == NOON + dt.timedelta(seconds=300)
    assert retry_at(NOON, 3, schedule) is None


def test_an_unsubscribe_token_reads_back_to_its_notification() -> None:
    notification_id = uuid.uuid4()
    token = unsubscribe_token(notification_id, secret="s3cret")

    assert read_unsubscribe_token(token, secret="s3cret") == notification_id


def test_an_unsubscribe_token_signed_with_another_secret_is_refused() -> None:
    token = unsubscribe_token(uuid.uuid4(), secret="one")

    assert read_unsubscribe_token(token, secret="other") is None


def test_a_tampered_unsubscribe_token_is_refused() -> None:
    token = unsubscribe_token(uuid.uuid4(), secret="s3cret")
    other = uuid.uuid4().hex

    assert read_unsubscribe_token(other + token[32:], secret="s3cret") is None
    assert read_unsubscribe_token("not-a-token", secret="s3cret") is None


def test_an_expiry_notice_says_when_and_links_to_the_agreement() -> None:
    agreement_id = uuid.uuid4()
    notice = describe(
        "agreement.expiring",
        {"id": str(agreement_id), "title": "MoU", "expires_on": "2027-09-04", "days_left": 30},
        agreement_reference="STZA-GEI-2023-01",
        public_url="https://accords.example.gov/",
    )

    assert notice.subject == "STZA-GEI-2023-01 expires in 30 days"
    assert notice.due_on == "2027-09-04"
    assert notice.link == f"https://accords.example.gov/app/agreements/{agreement_id}"


def test_a_report_notice_names_its_period() -> None:
    notice = describe(
        "report.overdue",
        {
            "agreement_id": str(uuid.uuid4()),
            "period_start": "2026-07-01",
            "period_end": "2026-09-30",
            "due_on": "2026-10-30",
        },
        agreement_reference="STZA-GEI-2023-01",
        public_url="http://127.0.0.1:8000",
    )

    assert "2026-07-01 to 2026-09-30" in notice.headline
    assert notice.subject == "Progress report is overdue (STZA-GEI-2023-01)"
