"""One reading of the bearer key for the dependency and the rate limit."""

from __future__ import annotations

import pytest

from services.api.auth import bearer_token, parse_bearer


@pytest.mark.parametrize("header", ["Bearer ak_1", "bearer ak_1", "BEARER   ak_1  "])
def test_a_bearer_header_gives_its_key(header: str) -> None:
    assert parse_bearer(header) == "ak_1"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic ak_1", "ak_1"])
def test_anything_but_a_bearer_key_gives_none(header: str | None) -> None:
    assert parse_bearer(header) is None


def test_an_asgi_request_is_read_from_its_first_authorization_header() -> None:
    scope = {
        "type": "http",
        "headers": [(b"authorization", b"Bearer ak_1"), (b"authorization", b"Bearer ak_2")],
    }

    assert bearer_token(scope) == "ak_1"


def test_an_asgi_request_without_authorization_has_no_key() -> None:
    assert bearer_token({"type": "http", "headers": [(b"accept", b"*/*")]}) is None
