"""Pure webhook rules: signing, matching, the retry schedule and the SSRF policy.

No I/O here: the worker (sending) and the API (endpoint validation) call these
functions, and the unit tests call them directly.

Signing follows Standard Webhooks 1.0 through the reference ``standardwebhooks``
package: ``v1,`` + base64 HMAC-SHA256 of ``{webhook-id}.{webhook-timestamp}.{body}``
keyed with the decoded bytes of the ``whsec_`` secret.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import ipaddress
import json
import random
import secrets
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
# After a rotation the old secret keeps signing too, so receivers can roll over.
ROTATION_GRACE = dt.timedelta(hours=24)
# An endpoint that has not had one success for this long is disabled.
DISABLE_AFTER = dt.timedelta(days=5)
RESPONSE_BODY_LIMIT = 2048
JITTER = 0.2
# A Retry-After beyond this is clamped: a receiver cannot park a delivery forever.
MAX_RETRY_AFTER = dt.timedelta(hours=24)
TEST_EVENT_TYPE = "webhook.test"


# --- secrets and signatures ------------------------------------------------------


def generate_secret() -> str:
    """A new signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def sign(secret: str, *, message_id: str, timestamp: int, body: str) -> str:
    """One ``v1,<base64>`` signature of ``body`` with ``secret``."""
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    return Webhook(secret).sign(msg_id=message_id, timestamp=moment, data=body)


def signing_secrets(
    current: str,
    previous: str | None,
    previous_valid_until: dt.datetime | None,
    now: dt.datetime,
) -> list[str]:
    """The secrets a delivery is signed with: the current one, and the previous
    one while its 24 h grace after a rotation lasts."""
    if previous and previous_valid_until is not None and now < previous_valid_until:
        return [current, previous]
    return [current]


def signature_header(
    secrets_in_use: Sequence[str], *, message_id: str, timestamp: int, body: str
) -> str:
    """The ``webhook-signature`` value: one signature per secret, space separated."""
    return " ".join(
        sign(secret, message_id=message_id, timestamp=timestamp, body=body)
        for secret in secrets_in_use
    )


def delivery_headers(
    secrets_in_use: Sequence[str], *, message_id: str, timestamp: int, body: str
) -> dict[str, str]:
    """The headers of one delivery attempt."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            secrets_in_use, message_id=message_id, timestamp=timestamp, body=body
        ),
    }


def delivery_body(
    *, event_type: str, occurred_at: dt.datetime, sequence: int | None, data: dict[str, Any]
) -> str:
    """The JSON body sent for an event; built once so every retry sends the same bytes."""
    payload: dict[str, Any] = {
        "type": event_type,
        "timestamp": occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
    }
    if sequence is not None:
        payload["sequence"] = sequence
    payload["data"] = data
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


# --- which endpoints get which events --------------------------------------------


def event_matches(event_type: str, filters: Iterable[str]) -> bool:
    """Whether an endpoint subscribed to ``filters`` wants ``event_type``.

    An empty list means every event; an entry ending in ``.`` is a prefix
    (``agreement.``); any other entry must equal the type.
    """
    filters = list(filters)
    if not filters:
        return True
    return any(
        event_type.startswith(entry) if entry.endswith(".") else event_type == entry
        for entry in filters
    )


# --- retries ------------------------------------------------------------------------


def retry_delay(
    attempts_made: int, schedule: Sequence[float], rng: random.Random | None = None
) -> float | None:
    """Seconds to wait before the next attempt, or None when the schedule is spent.

    ``schedule[n]`` is the wait before attempt ``n`` (0-based), so the first
    entry (usually 0) is the first attempt and a schedule of N entries allows
    N attempts. Each wait gets ±20 % jitter so that failing receivers coming
    back are not hit by every retry in the same second.
    """
    if attempts_made >= len(schedule):
        return None
    base = float(schedule[attempts_made])
    factor = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return max(0.0, base * factor)


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta-seconds or HTTP-date).

    Unparseable values give None; negative ones 0; huge ones are clamped.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        seconds = float(int(value))
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER.total_seconds())


def should_disable(failing_since: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether an endpoint failing since ``failing_since`` (no success in between)
    has failed long enough to be disabled."""
    return failing_since is not None and now - failing_since >= DISABLE_AFTER


def truncate_response_body(body: bytes) -> str:
    """The first 2 kB of a response body, as text, for the attempt log."""
    return body[:RESPONSE_BODY_LIMIT].decode("utf-8", errors="replace")


# --- SSRF policy ------------------------------------------------------------------

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def refused_address_reason(
    address: str | ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> str | None:
    """Why a webhook may not be sent to ``address``, or None when it may.

    IPv4-mapped (``::ffff:a.b.c.d``), 6to4 and NAT64 forms are judged by the
    IPv4 address they carry, since that is where the packets end up.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return refused_address_reason(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            return refused_address_reason(ip.sixtofour)
        if ip in _NAT64:
            return refused_address_reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "carrier-grade NAT (shared address space)"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not globally routable"
    return None


def is_local_name(host: str) -> bool:
    """Names that mean this machine whatever DNS says (RFC 6761)."""
    host = host.lower().rstrip(".")
    return host in _LOCAL_NAMES or host.endswith(".localhost")


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a URL host names literally (``10.0.0.1``, ``[::1]``), if it does."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """What is wrong with a target URL on its face (before any DNS), or None.

    https only, unless private targets are allowed (then http too); a host is
    required; credentials in the URL are refused (they would be logged and
    sent to every redirect target); local names and literal non-public
    addresses are refused unless private targets are allowed.
    """
    parts = urlsplit(url)
    allowed_schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed_schemes:
        return "the url must use https" if not allow_private else "the url must use http(s)"
    if not parts.hostname:
        return "the url has no host"
    if parts.username or parts.password:
        return "the url may not carry credentials"
    try:
        parts.port  # noqa: B018 - raises on an out-of-range port
    except ValueError:
        return "the url has an invalid port"
    if allow_private:
        return None
    if is_local_name(parts.hostname):
        return f"{parts.hostname} is a local name"
    literal = literal_address(parts.hostname)
    if literal is not None:
        reason = refused_address_reason(literal)
        if reason:
            return f"{literal} is a {reason} address"
    return None
