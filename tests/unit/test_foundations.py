from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import structlog

from services.api.http import check_if_match, decode_cursor, encode_cursor
from shared.errors import PreconditionFailed, PreconditionRequired
from shared.ids import uuid7
from shared.logging import configure_logging
from shared.security import grants
from shared.settings import Settings, normalize_database_url


def test_uuid7_is_version_7_and_strictly_increasing() -> None:
    ids = [uuid7() for _ in range(5000)]

    assert all(value.version == 7 for value in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_cursor_round_trips() -> None:
    value = uuid.uuid4()

    assert decode_cursor(encode_cursor(value)) == value


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///var/a.db", "sqlite+aiosqlite:///var/a.db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_urls_are_mapped_to_async_drivers(url: str, expected: str) -> None:
    assert normalize_database_url(url) == expected


def test_retry_schedule_reads_comma_separated_seconds(monkeypatch) -> None:
    monkeypatch.setenv("ACCORDS_WEBHOOK_RETRY_SCHEDULE", "0, 5,300")

    assert Settings().webhook_retry_schedule == [0, 5, 300]


def test_environment_wins_over_defaults(monkeypatch) -> None:
    monkeypatch.setenv("ACCORDS_RATE_LIMIT_PER_MINUTE", "7")

    assert Settings().rate_limit_per_minute == 7


@pytest.mark.parametrize(
    ("scopes", "needed", "expected"),
    [
        (["admin"], "webhooks", True),
        (["write"], "read", True),
        (["read"], "write", False),
        (["webhooks"], "read", False),
        (["read", "webhooks"], "webhooks", True),
    ],
)
def test_scope_grants(scopes: list[str], needed: str, expected: bool) -> None:
    assert grants(scopes, needed) is expected


def test_if_match_rules() -> None:
    check_if_match('"3"', 3)
    check_if_match("*", 3)
    with pytest.raises(PreconditionRequired):
        check_if_match(None, 3)
    with pytest.raises(PreconditionFailed):
        check_if_match('"2"', 3)


def _log_with_secrets() -> None:
    structlog.get_logger("t").info(
        "event",
        api_key="acc_secret",
        webhook_secret="whsec_x",
        authorization="Bearer acc_token",
        api_key_id="visible",
    )


@pytest.fixture(autouse=True)
def _logging_put_back() -> Iterator[None]:
    """Logging configured by a test writes to that test's captured stream: once it
    is closed (after ``capsys``, torn down before this), configure it again on the
    stream put back, or every later log line (a worker's, in a later test) fails."""
    yield
    configure_logging(log_format="console", level="warning")


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_a_logged_secret_never_reaches_the_rendered_output(capsys, log_format: str) -> None:
    configure_logging(log_format=log_format, level="info")

    _log_with_secrets()

    output = capsys.readouterr().err
    assert "event" in output
    assert not [secret for secret in ("acc_secret", "whsec_x", "acc_token") if secret in output]


def test_a_masked_field_stays_in_the_line_and_an_id_is_kept(capsys) -> None:
    configure_logging(log_format="json", level="info")

    _log_with_secrets()

    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (line["api_key"], line["webhook_secret"], line["authorization"]) == ("***",) * 3
    assert line["api_key_id"] == "visible"
