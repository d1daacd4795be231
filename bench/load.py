"""A light, constant-rate HTTP/1.1 load generator for the pipeline benchmarks.

The benchmarks run the API, the worker, PostgreSQL, RabbitMQ and the load
generator on the same two cores, so the generator must cost next to
nothing: a general-purpose client (httpx) spends more CPU per request than
the API answering it, and starves the processes being measured. This one
writes pre-built requests on a few keep-alive connections and reads each
answer's status line, headers and ``Content-Length`` body, nothing more.

Requests are sent open-loop: request ``n`` is due at ``start + n / rate``;
a connection takes the next due request as soon as it is free. When every
connection is busy the schedule slips, and :attr:`LoadResult.achieved` shows
the rate actually sent.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: object | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class LoadResult:
    sent: int
    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    # The status of each call, by its index (None: no answer).
    answers: list[int | None] = field(default_factory=list)

    @property
    def achieved(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def _encode(call: Call, host: str, headers: Sequence[tuple[str, str]]) -> bytes:
    body = b"" if call.body is None else json.dumps(call.body).encode()
    lines = [f"{call.method} {call.path} HTTP/1.1", f"host: {host}"]
    lines += [f"{name}: {value}" for name, value in (*headers, *call.headers)]
    if call.body is not None:
        lines.append("content-type: application/json")
    lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, rest = head.partition(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    for line in rest.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def drive(
    base_url: str,
    calls: Sequence[Call],
    *,
    rate: float,
    headers: Sequence[tuple[str, str]] = (),
    connections: int = 16,
) -> LoadResult:
    """Send ``calls`` at ``rate`` per second over ``connections`` keep-alive connections."""
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    encoded = [_encode(call, f"{host}:{port}", headers) for call in calls]
    result = LoadResult(sent=0, seconds=0.0, answers=[None] * len(calls))
    next_index = 0
    started = time.perf_counter()

    async def connection() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_index < len(encoded):
                index = next_index
                next_index += 1
                delay = started + index / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(encoded[index])
                try:
                    status = await _read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError) as exc:
                    result.errors.append(f"request {index}: {exc!r}")
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                result.sent += 1
                result.statuses[status] += 1
                result.answers[index] = status
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    return result
