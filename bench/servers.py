"""The servers under test: started in their own process groups, always stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


class Servers:
    """Started server processes, each in its own process group, stopped together."""

    def __init__(self, *, cwd: Path, log_dir: Path) -> None:
        self._cwd = cwd
        self._log_dir = log_dir
        self._started: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        """Start ``command``; its output goes to ``<log_dir>/<name>.log``."""
        self._log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self._log_dir / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=self._cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: the uvicorn workers stop with it
            )
        self._started.append((name, process, log_path))

    def check_alive(self) -> None:
        for name, process, log_path in self._started:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}; its log ({log_path}):\n"
                    + _tail(log_path)
                )

    def log_tail(self, name: str) -> str:
        for started_name, _process, log_path in self._started:
            if started_name == name:
                return _tail(log_path)
        return ""

    def stop_all(self, grace_seconds: float = 10.0) -> None:
        for _name, process, _log in self._started:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for _name, process, _log in self._started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for _name, process, _log in self._started:
            # The group may outlive its leader (a worker still shutting down).
            _signal_group(process, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        self._started.clear()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    # The group id is the pid of the process this script started.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_until_ready(servers: Servers, name: str, url: str, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers 200, failing early if a server has exited."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        servers.check_alive()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last_error = f"status {response.status}"
        except urllib.error.HTTPError as error:
            last_error = f"status {error.code}: {error.read()[:300]!r}"
        except OSError as error:
            last_error = str(error)
        time.sleep(0.3)
    raise RuntimeError(
        f"{name} not ready at {url} after {timeout:.0f}s ({last_error}); log:\n"
        + servers.log_tail(name)
    )
