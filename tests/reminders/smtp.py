"""Real SMTP servers for the tests (aiosmtpd), on free loopback ports."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.live import free_port


class Mailbox:
    """What an SMTP server accepted, parsed with the standard library."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[EmailMessage] = []
        self.data_commands = 0
        self.recipients_offered = 0

    def add(self, raw: bytes) -> None:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]

    def wait_for(self, count: int, *, within: float = 30) -> list[EmailMessage]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"{count} emails expected within {within} s, got {len(self.messages)}")

    def message_ids(self) -> list[str]:
        with self._lock:
            return [str(message["Message-ID"]) for message in self.messages]


class _Handler:
    def __init__(self, mailbox: Mailbox, answers: list[str]) -> None:
        self.mailbox = mailbox
        # Answers to DATA, in order; past the list, every message is accepted.
        self.answers = list(answers)
        self.gate: threading.Event | None = None

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:  # type: ignore[no-untyped-def]
        self.mailbox.recipients_offered += 1
        if self.gate is not None:
            # Hold the client before it sends the message, until the test opens the gate.
            await asyncio.to_thread(self.gate.wait)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.mailbox.data_commands += 1
        if self.answers:
            answer = self.answers.pop(0)
            if not answer.startswith("250"):
                return answer
        self.mailbox.add(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(answers: list[str] | None = None) -> Iterator[tuple[str, Mailbox, _Handler]]:
    """An aiosmtpd server; yields its ``smtp://`` URL, its mailbox and its handler."""
    mailbox = Mailbox()
    handler = _Handler(mailbox, answers or [])
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", mailbox, handler
    finally:
        if handler.gate is not None:
            handler.gate.set()
        controller.stop()


@contextmanager
def dropping_server() -> Iterator[tuple[str, list[int]]]:
    """A server that accepts TCP connections and closes them at once (no greeting)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    connections: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connections.append(1)
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"smtp://127.0.0.1:{port}", connections
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()
