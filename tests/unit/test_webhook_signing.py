"""Signing, matching, the retry schedule and Retry-After: pure rules of shared/webhooks.py."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from shared.webhooks.rules import (
    delivery_body,
    delivery_headers,
    event_matches,
    generate_secret,
    parse_retry_after,
    retry_delay,
    should_disable,
    signing_secrets,
    truncate_response_body,
)

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


def _signed(secrets: list[str], body: str = '{"type":"agreement.created"}') -> dict[str, str]:
    return delivery_headers(
        secrets,
        message_id="0190f4f4-0000-7000-8000-000000000001",
        timestamp=int(time.time()),
        body=body,
    )


def test_a_secret_is_whsec_and_32_random_bytes() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32


def test_the_reference_library_verifies_a_signature() -> None:
    secret = generate_secret()
    body = '{"type":"agreement.created","data":{}}'
    assert Webhook(secret).verify(body, _signed([secret], body)) == json.loads(body)


def test_a_signature_made_with_another_secret_does_not_verify() -> None:
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify("{}", _signed([generate_secret()], "{}"))


def test_a_changed_body_does_not_verify() -> None:
    secret = generate_secret()
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify('{"a":2}', _signed([secret], '{"a":1}'))


def test_two_secrets_give_two_space_separated_signatures_both_valid() -> None:
    old, new = generate_secret(), generate_secret()
    headers = _signed([new, old], "{}")
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify("{}", headers) == {} and Webhook(new).verify("{}", headers) == {}


def test_the_previous_secret_signs_during_its_grace_period() -> None:
    assert signing_secrets("new", "old", NOW + dt.timedelta(seconds=1), NOW) == ["new", "old"]


def test_the_previous_secret_stops_signing_when_its_grace_period_ends() -> None:
    assert signing_secrets("new", "old", NOW, NOW) == ["new"]


def test_the_headers_carry_the_message_id_and_unix_timestamp() -> None:
    headers = delivery_headers(
        ["whsec_" + "A" * 44], message_id="m1", timestamp=1700000000, body="{}"
    )
    assert (headers["webhook-id"], headers["webhook-timestamp"]) == ("m1", "1700000000")


def test_the_body_has_type_timestamp_sequence_and_data() -> None:
    body = json.loads(
        delivery_body(event_type="agreement.created", occurred_at=NOW, sequence=3, data={"id": "x"})
    )
    assert body == {
        "type": "agreement.created",
        "timestamp": "2026-11-28T12:00:00Z",
        "sequence": 3,
        "data": {"id": "x"},
    }


@pytest.mark.parametrize(
    ("event_type", "filters", "expected"),
    [
        ("agreement.created", [], True),
        ("agreement.created", ["agreement."], True),
        ("agreement.created", ["agreement.created"], True),
        ("agreement.created", ["agreement.updated"], False),
        ("agreement.created", ["agree"], False),
        ("milestone.overdue", ["agreement.", "milestone.overdue"], True),
    ],
)
def test_event_types_filter_by_exact_type_or_prefix(
    event_type: str, filters: list[str], expected: bool
) -> None:
    assert event_matches(event_type, filters) is expected


def test_the_first_attempt_waits_for_the_first_schedule_entry() -> None:
    assert retry_delay(0, [0, 5, 300]) == 0


def test_retry_waits_stay_within_twenty_percent_of_the_schedule() -> None:
    rng = random.Random(7)
    waits = [retry_delay(2, [0, 5, 300], rng) for _ in range(500)]
    assert all(240 <= wait <= 360 for wait in waits)


def test_retry_waits_are_jittered() -> None:
    rng = random.Random(7)
    assert len({retry_delay(1, [0, 100], rng) for _ in range(20)}) > 1


def test_a_spent_schedule_means_no_more_attempts() -> None:
    assert retry_delay(3, [0, 0, 0]) is None


def test_retry_after_in_seconds_is_read() -> None:
    assert parse_retry_after("120", NOW) == 120


def test_retry_after_as_an_http_date_is_read() -> None:
    assert parse_retry_after("Sat, 28 Nov 2026 12:01:00 GMT", NOW) == 60


def test_a_retry_after_in_the_past_means_now() -> None:
    assert parse_retry_after("Sat, 28 Nov 2026 11:00:00 GMT", NOW) == 0


def test_an_unreadable_retry_after_is_ignored() -> None:
    assert parse_retry_after("soon", NOW) is None


def test_a_huge_retry_after_is_clamped_to_a_day() -> None:
    assert parse_retry_after("99999999", NOW) == 86400


def test_an_endpoint_failing_for_five_days_is_disabled() -> None:
    assert should_disable(NOW - dt.timedelta(days=5), NOW)


def test_an_endpoint_failing_for_less_than_five_days_stays_enabled() -> None:
    assert not should_disable(NOW - dt.timedelta(days=4, hours=23), NOW)


def test_only_the_first_two_kilobytes_of_a_response_are_kept() -> None:
    assert len(truncate_response_body(b"x" * 10_000)) == 2048
