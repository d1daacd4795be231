"""The SSRF policy: which addresses and URLs webhooks may target."""

from __future__ import annotations

import pytest

from shared.webhooks.rules import refused_address_reason, url_problem


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT (shared address space)"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a00:1", "private"),
        ("2002:0a00:0001::1", "private"),
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    assert refused_address_reason(address) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refused_address_reason(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://localhost/hook",
        "https://api.localhost/hook",
        "https://[::ffff:10.0.0.1]/hook",
    ],
)
def test_local_targets_are_refused_on_their_face(url: str) -> None:
    assert url_problem(url, allow_private=False) is not None


def test_plain_http_is_refused_when_private_targets_are_not_allowed() -> None:
    assert url_problem("http://partner.example.gov/hook", allow_private=False) is not None


def test_plain_http_is_accepted_when_private_targets_are_allowed() -> None:
    assert url_problem("http://127.0.0.1:9000/hook", allow_private=True) is None


def test_credentials_in_the_url_are_refused() -> None:
    assert url_problem("https://user:pw@partner.example.gov/", allow_private=False) is not None


def test_other_schemes_are_refused() -> None:
    assert url_problem("ftp://partner.example.gov/", allow_private=True) is not None


def test_a_public_https_url_is_accepted() -> None:
    assert url_problem("https://partner.example.gov/hooks", allow_private=False) is None
