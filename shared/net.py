"""Name resolution for the webhook SSRF guard (the I/O half of shared/webhooks.py).

Used by the API when an endpoint is created or changed, and by the worker's
connection backend at send time, which then connects to exactly the address
checked here, so a name that re-resolves elsewhere (DNS rebinding) cannot
slip through between the check and the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from shared.webhooks.rules import is_local_name, literal_address, refused_address_reason

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
RESOLVE_TIMEOUT_SECONDS = 5.0


class TargetRefused(Exception):
    """The target resolves to an address webhooks may not be sent to."""


class TargetUnresolvable(Exception):
    """The target's name does not resolve."""


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in resolver order, without duplicates."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError) as exc:
        raise TargetUnresolvable(f"{host} does not resolve ({exc})") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TargetUnresolvable(f"{host} does not resolve")
    return addresses


def refusal(host: str, addresses: list[IPAddress]) -> str | None:
    """Why ``host`` (resolved to ``addresses``) is refused; any bad address refuses it,
    since an attacker controlling the name could steer to that one."""
    if is_local_name(host):
        return f"{host} is a local name"
    for address in addresses:
        reason = refused_address_reason(address)
        if reason:
            if literal_address(host) is not None:
                return f"{address} is a {reason} address"
            return f"{host} resolves to {address}, a {reason} address"
    return None


async def checked_addresses(host: str, port: int, *, allow_private: bool) -> list[IPAddress]:
    """Resolve ``host`` and return its addresses, refusing non-public ones unless allowed."""
    if not allow_private and is_local_name(host):
        raise TargetRefused(f"{host} is a local name")
    addresses = await resolve(host, port)
    if not allow_private:
        reason = refusal(host, addresses)
        if reason:
            raise TargetRefused(reason)
    return addresses
