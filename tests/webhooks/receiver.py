"""A tiny HTTP/1.1 receiver on 127.0.0.1 that records what webhooks deliver.

It answers from a script of statuses (then 200), keeps connections alive like
a real server, and lets tests wait (bounded) for a number of requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    # Close the connection after this answer (a server ending keep-alive).
    close: bool = False


WAIT_SECONDS = 60.0
_REASONS = {200: "OK", 204: "No Content", 302: "Found", 410: "Gone", 429: "Too Many Requests"}


class Receiver:
    def __init__(self, answers: list[Answer | int] | None = None) -> None:
        self.answers: list[Answer] = [
            answer if isinstance(answer, Answer) else Answer(answer) for answer in answers or []
        ]
        self.requests: list[Received] = []
        # Requests read so far, answered or not (requests are listed once answered).
        self.arrivals = 0
        # Connections accepted so far (keep-alive reuse shows as fewer).
        self.connections = 0
        self.closed_connections = 0
        self.on_request: Callable[[Received], None] | None = None
        # Seconds to take over each answer, to keep deliveries in flight longer.
        self.delay = 0.0
        self._arrived = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def wait_for(self, count: int) -> list[Received]:
        """Wait (at most WAIT_SECONDS) until ``count`` requests arrived."""
        async with asyncio.timeout(WAIT_SECONDS), self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests) >= count)
        return self.requests

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                method, path, _ = request_line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    line = (await reader.readline()).decode().rstrip("\r\n")
                    if not line:
                        break
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                received = Received(method, path, headers, body)
                self.arrivals += 1
                if self.delay:
                    await asyncio.sleep(self.delay)
                answer = self.answers.pop(0) if self.answers else Answer()
                reason = _REASONS.get(answer.status, "Status")
                head = [f"HTTP/1.1 {answer.status} {reason}", f"content-length: {len(answer.body)}"]
                head += [f"{name}: {value}" for name, value in answer.headers.items()]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + answer.body)
                await writer.drain()
                async with self._arrived:
                    self.requests.append(received)
                    if self.on_request:
                        self.on_request(received)
                    self._arrived.notify_all()
                if answer.close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            writer.close()
            self.closed_connections += 1
