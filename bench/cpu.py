"""CPU time spent by the processes of a run, by group, from ``/proc`` (Linux).

What a bench measures on a machine whose cores all its processes share: the
CPU each part spends per change says which one caps the rate, and what the
rate can be at most (cores / CPU per change).

A process's time counts its own and that of its children it has reaped, so
PostgreSQL backends that exit are still counted (in the postmaster's).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# Groups found by the name of their programs rather than a process group.
BY_NAME = {"postgresql": ("postgres",), "rabbitmq": ("beam.smp",)}


def available() -> bool:
    return (PROC / "self" / "stat").exists()


def _stat(pid: str) -> tuple[str, int, float] | None:
    """(program name, process group, CPU seconds with reaped children) of a process."""
    try:
        text = (PROC / pid / "stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    # After the name: state ppid pgrp ... utime(12) stime(13) cutime(14) cstime(15).
    ticks = sum(int(value) for value in fields[11:15])
    return name, int(fields[2]), ticks / TICKS


def _processes() -> Iterator[tuple[int, tuple[str, int, float]]]:
    """Each running process: its pid and :func:`_stat`."""
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (found := _stat(entry.name)) is not None:
            yield int(entry.name), found


def snapshot(groups: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process group (``groups``: name to its
    group id), of PostgreSQL and RabbitMQ by their programs' names, and of this
    process (``generator``)."""
    seconds = dict.fromkeys([*groups, *BY_NAME], 0.0)
    by_group = {group: name for name, group in groups.items()}
    for _pid, (program, group, used) in _processes():
        if group in by_group:
            seconds[by_group[group]] += used
            continue
        for name, programs in BY_NAME.items():
            if program in programs:
                seconds[name] += used
    times = os.times()
    seconds["generator"] = times.user + times.system
    return seconds


def of_processes(group: int) -> dict[int, float]:
    """CPU seconds so far of each process of the process group ``group``:
    how evenly a server's workers share its load."""
    return {pid: used for pid, (_program, of, used) in _processes() if of == group}


def shares(before: dict[int, float], after: dict[int, float], seconds: float) -> str:
    """The cores each process kept busy between two :func:`of_processes`
    snapshots ``seconds`` apart, busiest first (those under 0.01 left out)."""
    busy = sorted(
        ((after[pid] - before.get(pid, 0.0)) / seconds for pid in after),
        reverse=True,
    )
    return " / ".join(f"{cores:.2f}" for cores in busy if cores >= 0.01) or "none busy"


def rates(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Cores each group kept busy between two snapshots ``seconds`` apart."""
    return {name: (after[name] - before[name]) / seconds for name in after}


def per_change(
    before: dict[str, float],
    after: dict[str, float],
    changes: int,
    *,
    idle: dict[str, float] | None = None,
    seconds: float = 0.0,
) -> str:
    """A line of the CPU milliseconds per change of each group, their sum, and the
    rate that sum allows on this machine's cores.

    With ``idle`` (each group's cores busy with no load, from :func:`rates`) and
    the run's ``seconds``, what the groups spend anyway (the relay's polling, the
    pools' pings) is taken off first and reported apart: the per-change figure
    is what the changes cost. That cost falls as the load grows (requests,
    publishes and the worker's transactions share batches), so the rate it
    allows is the machine's ceiling only when measured at saturation.
    """
    if not changes:
        return "cpu per change: no change"
    idle = idle or {}
    spent = {
        name: max(0.0, after[name] - before[name] - idle.get(name, 0.0) * seconds) * 1000 / changes
        for name in after
    }
    total = sum(spent.values())
    cores = os.cpu_count() or 1
    background = sum(idle.values())
    free = max(0.0, cores - background)
    parts = ", ".join(f"{name} {value:.1f}" for name, value in spent.items())
    ceiling = free * 1000 / total if total else float("inf")
    idle_part = f"; idle load {background:.2f} cores apart" if idle else ""
    return (
        f"cpu per change (ms): {parts}; {total:.1f} in all{idle_part}"
        f" ({cores} cores: at most {ceiling:.0f} changes/s)"
    )
