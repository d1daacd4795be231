"""Real `accords` processes for tests that cross process boundaries."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

ACCORDS = str(Path(sys.executable).with_name("accords"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accords_env(**settings: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("ACCORDS_")}
    env.update({"ACCORDS_LOG_LEVEL": "warning", "ACCORDS_LOG_FORMAT": "json"})
    env.update({f"ACCORDS_{name.upper()}": value for name, value in settings.items()})
    return env


@contextmanager
def running(
    args: list[str],
    env: dict[str, str],
    *,
    ready_url: str | None = None,
    timeout: float = 30,
    cwd: str | Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run an `accords` command until the block ends; wait for ``ready_url`` first.

    Its log goes to a temporary file, not a pipe: nobody reads a pipe while
    the test runs, and a chatty process would block once it filled up.
    """
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [ACCORDS, *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
            cwd=cwd,
        )
        try:
            if ready_url:
                _wait_until_up(process, ready_url, timeout, log)
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


@contextmanager
def serving(env: dict[str, str], *, ready_path: str = "/readyz") -> Iterator[str]:
    """Run `accords serve` (one uvicorn worker) on a free port; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with running(serve, env, ready_url=f"{base}{ready_path}"):
        yield base


def _wait_until_up(
    process: subprocess.Popen[bytes], url: str, timeout: float, log: IO[bytes]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            stderr = log.read().decode(errors="replace")
            raise RuntimeError(f"accords exited with {process.returncode}: {stderr[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")
