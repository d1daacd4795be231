"""The real servers the suite talks to, and what to do when one is down.

Outside CI a test whose server is unreachable skips, saying which; with
``CI=true`` it fails, so a green CI run always means the servers were used.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Server:
    name: str
    host: str
    port: int

    def reachable(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                return True
        except OSError:
            return False

    def require(self) -> None:
        if self.reachable():
            return
        message = f"{self.name} at {self.host}:{self.port} is unreachable"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: tests that need it must run)", pytrace=False)
        pytest.skip(message)


POSTGRES_ADMIN_URL = os.environ.get(
    "ACCORDS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
POSTGRES = Server("PostgreSQL", "127.0.0.1", 5432)
RABBITMQ = Server("RabbitMQ", "127.0.0.1", 5672)
REDIS = Server("Redis", "127.0.0.1", 6379)
