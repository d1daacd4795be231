"""Real `accords` processes for tests that cross process boundaries."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

ACCORDS = str(Path(sys.executable).with_name("accords"))


# Ports handed out by free_port(): below the kernel's ephemeral range (where
# every outgoing connection takes its local port, and bind(0) too), one block
# per xdist worker, so neither a client socket nor another worker's server can
# take a port between free_port() and the server's own bind.
_PORT_BLOCK = 1000
_PORTS_FROM = 10_000
_next_port = 0


def _worker_index() -> int:
    number = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return int(number) if number.isdigit() else 0


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on or holds (TIME_WAIT included)."""
    global _next_port
    start = _PORTS_FROM + (_worker_index() % 16) * _PORT_BLOCK
    for _ in range(_PORT_BLOCK):
        port = start + _next_port
        _next_port = (_next_port + 1) % _PORT_BLOCK
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}-{start + _PORT_BLOCK - 1}")


def accords_env(**settings: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("ACCORDS_")}
    env.update({"ACCORDS_LOG_LEVEL": "warning", "ACCORDS_LOG_FORMAT": "json"})
    env.update({f"ACCORDS_{name.upper()}": value for name, value in settings.items()})
    return env


class Launched:
    """A running `accords` process and its log (stderr, in a temporary file)."""

    def __init__(self, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
        self.process = process
        self._log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def stdout(self) -> IO[bytes] | None:
        return self.process.stdout

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout=timeout)

    def log_text(self) -> str:
        """Everything the process logged so far."""
        # pread: the file offset is shared with the process writing the log.
        descriptor = self._log.fileno()
        size = os.fstat(descriptor).st_size
        return os.pread(descriptor, size, 0).decode(errors="replace")

    def log_events(self, event: str) -> list[dict[str, Any]]:
        """The JSON log lines (ACCORDS_LOG_FORMAT=json) whose event is ``event``."""
        found = []
        for line in self.log_text().splitlines():
            with suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and record.get("event") == event:
                    found.append(record)
        return found


@contextmanager
def running(
    args: list[str],
    env: dict[str, str],
    *,
    ready_url: str | None = None,
    timeout: float = 30,
    cwd: str | Path | None = None,
    capture_stdout: bool = False,
    stop_within: float = 10,
) -> Iterator[Launched]:
    """Run an `accords` command until the block ends; wait for ``ready_url`` first.

    Its log goes to a temporary file, not a pipe: nobody reads a pipe while
    the test runs, and a chatty process would block once it filled up (stdout
    is a pipe only with ``capture_stdout``, for a command that prints a line or
    two). When the block fails, the end of the log is printed (pytest shows
    it with the failure). At the end the process group gets SIGTERM, then
    SIGKILL after ``stop_within`` seconds.
    """
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [ACCORDS, *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        launched = Launched(process, log)
        try:
            if ready_url:
                _wait_until_up(process, ready_url, timeout, log)
            yield launched
        except BaseException:
            print(launched.log_text()[-5000:])
            raise
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=stop_within)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()


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
    """Until ``url`` answers 200 from ``process`` itself: uvicorn says its
    start-up completed before it binds, so a server whose free port another
    test's server took meanwhile exits (and says why here) rather than have
    the other one answer for it."""
    port = urlsplit(url).port
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            stderr = log.read().decode(errors="replace")
            raise RuntimeError(f"accords exited with {process.returncode}: {stderr[-2000:]}")
        try:
            answered = httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            answered = False
        if answered and (port is None or listens(process.pid, port)):
            return
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


# --- who listens where (Linux /proc) ------------------------------------------


def tcp_inodes(port: int, state: str) -> set[int]:
    """Inodes of the TCP sockets whose local port is ``port``, in ``state``
    (``/proc/net/tcp``'s hex code: 0A listening, 01 established)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(FileNotFoundError), open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                    found.add(int(fields[9]))
    return found


def sockets_of(pid: int) -> set[int]:
    """Inodes of the sockets process ``pid`` holds (none once it is gone)."""
    inodes = set()
    with suppress(FileNotFoundError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with suppress(FileNotFoundError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def children_of(pid: int) -> list[int]:
    """Process ``pid``'s children (none once it is gone)."""
    with suppress(FileNotFoundError), open(f"/proc/{pid}/task/{pid}/children") as listing:
        return [int(child) for child in listing.read().split()]
    return []


def listens(pid: int, port: int) -> bool:
    """Whether ``pid`` or one of its children listens on ``port``."""
    listening = tcp_inodes(port, "0A")
    return any(sockets_of(each) & listening for each in [pid, *children_of(pid)])
