"""bench.cpu: CPU time by process group, what bench.pipeline reports per change."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench import cpu

pytestmark = pytest.mark.skipif(not cpu.available(), reason="no /proc on this system")

# Waits for a line, spends 0.3 s of CPU, says so, and waits for the end of its input.
BURN = """
import sys, time
sys.stdin.readline()
end = time.process_time() + 0.3
while time.process_time() < end:
    pass
print("done", flush=True)
sys.stdin.read()
"""


def _started(*args: str) -> subprocess.Popen[str]:
    """``python -c *args`` in a process group of its own, its stdin and stdout piped."""
    return subprocess.Popen(
        [sys.executable, "-c", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_a_process_group_is_charged_with_the_cpu_its_processes_spend() -> None:
    child = _started(BURN)
    assert child.stdin is not None and child.stdout is not None
    try:
        groups = {"child": child.pid}
        before = cpu.snapshot(groups)
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline() == "done\n"
        after = cpu.snapshot(groups)
    finally:
        child.stdin.close()
        child.wait(timeout=30)
    assert 0.25 <= after["child"] - before["child"] < 5
    assert set(after) == {"child", "postgresql", "rabbitmq", "generator"}
    assert after["generator"] >= before["generator"]


def test_per_change_divides_each_group_and_gives_the_rate_the_cores_allow() -> None:
    before = {"serve": 1.0, "worker": 2.0, "generator": 0.0}
    after = {"serve": 2.0, "worker": 2.5, "generator": 0.5}
    line = cpu.per_change(before, after, 100)
    assert "serve 10.0, worker 5.0, generator 5.0; 20.0 in all" in line
    cores = os.cpu_count()
    assert f"({cores} cores: at most {cores * 50} changes/s)" in line
    assert cpu.per_change(before, after, 0) == "cpu per change: no change"


def test_per_change_takes_off_what_the_groups_spend_with_no_load() -> None:
    before = {"serve": 1.0, "worker": 2.0}
    after = {"serve": 3.0, "worker": 2.1}
    idle = cpu.rates({"serve": 0.0, "worker": 0.0}, {"serve": 0.5, "worker": 1.0}, 5.0)
    assert idle == {"serve": 0.1, "worker": 0.2}
    # 10 s at 0.1 and 0.2 cores idle: 1 s of serve's 2 s and all of the worker's 0.1 s.
    line = cpu.per_change(before, after, 100, idle=idle, seconds=10.0)
    assert "serve 10.0, worker 0.0; 10.0 in all; idle load 0.30 cores apart" in line
    cores = os.cpu_count()
    assert f"at most {round((cores - 0.3) * 100)} changes/s" in line


def test_the_processes_of_a_group_are_told_apart_by_the_cpu_each_spends() -> None:
    """bench.pipeline prints how serve's workers share the load: one child
    burning 0.3 s of CPU and one idle, in one process group."""
    # The child reads the parent's stdin and writes its stdout; the parent waits.
    script = "import subprocess, sys; subprocess.run([sys.executable, '-c', sys.argv[1]])"
    parent = _started(script, BURN)
    assert parent.stdin is not None and parent.stdout is not None
    try:
        deadline = time.monotonic() + 10
        while len(cpu.of_processes(parent.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        before = cpu.of_processes(parent.pid)
        assert len(before) == 2
        parent.stdin.write("go\n")
        parent.stdin.flush()
        assert parent.stdout.readline() == "done\n"
        after = cpu.of_processes(parent.pid)
    finally:
        parent.stdin.close()
        parent.wait(timeout=30)
    spent = sorted(after[pid] - before[pid] for pid in before)
    assert spent[0] < 0.1 and 0.25 <= spent[1] < 5
    assert cpu.shares({1: 0.0, 2: 0.0, 3: 0.0}, {1: 0.5, 2: 2.0, 3: 0.001}, 2.0) == "1.00 / 0.25"
