"""wrk, the load generator: installing it, running it, reading its report."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

PATHS_SCRIPT = Path(__file__).resolve().parent / "paths.lua"
CREATE_SCRIPT = Path(__file__).resolve().parent / "create.lua"

_DURATION_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = r"([\d.]+)(us|ms|s|m|h)\b"


@dataclasses.dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int


def is_duration(text: str) -> bool:
    """Whether ``text`` is a duration wrk accepts, such as ``10s`` or ``500ms``."""
    return re.fullmatch(_DURATION, text) is not None


def duration_seconds(text: str) -> float:
    match = re.fullmatch(_DURATION, text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return _to_ms(match.group(1), match.group(2)) / 1000


def _to_ms(value: str, unit: str) -> float:
    return float(value) * _DURATION_UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    """Read requests/s, p50, p99 and error counts from ``wrk --latency`` output."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    percentiles = {
        match.group(1): _to_ms(match.group(2), match.group(3))
        for match in re.finditer(rf"^\s+(50|99)(?:\.0+)?%\s+{_DURATION}", output, re.MULTILINE)
    }
    if rps is None or total is None or set(percentiles) != {"50", "99"}:
        raise ValueError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests_per_second=float(rps.group(1)),
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
    )


def ensure_wrk() -> str:
    """The wrk executable, installing Debian's package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") is None:
        sys.exit("wrk is not installed and apt-get is not available: install wrk first")
    print("installing wrk with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "wrk"]
    if subprocess.run(install, env=env, timeout=300, check=False).returncode != 0:
        # A fresh machine has no package lists yet.
        subprocess.run(["apt-get", "update", "-qq"], env=env, timeout=300, check=True)
        subprocess.run(install, env=env, timeout=300, check=True)
    found = shutil.which("wrk")
    if not found:
        sys.exit("apt-get ran but wrk is still not on PATH")
    return found


def run_wrk(
    wrk: str,
    base_url: str,
    paths: Sequence[str],
    *,
    headers: Mapping[str, str],
    threads: int,
    connections: int,
    duration: str,
    workdir: Path,
    create_body: str | None = None,
) -> WrkResult:
    """One wrk run; with several paths, wrk cycles through them (paths.lua).

    With ``create_body`` (JSON holding ``__REF__``), every request POSTs it to
    ``paths[0]`` with a fresh reference instead (create.lua).
    """
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}",
        "--timeout",
        "10s",
        "--latency",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    env = dict(os.environ)
    if create_body is not None:
        body_file = workdir / "create.json"
        body_file.write_text(create_body)
        env["BENCH_CREATE_FILE"] = str(body_file)
        env["BENCH_RUN_TOKEN"] = os.urandom(6).hex()
        command += ["-s", str(CREATE_SCRIPT)]
    elif len(paths) > 1:
        paths_file = workdir / "paths.txt"
        paths_file.write_text("\n".join(paths) + "\n")
        env["BENCH_PATHS_FILE"] = str(paths_file)
        command += ["-s", str(PATHS_SCRIPT)]
    command.append(f"{base_url}{paths[0]}")
    completed = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=duration_seconds(duration) + 60,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}):\n{completed.stderr}")
    return parse_wrk(completed.stdout)
