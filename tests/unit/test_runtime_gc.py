"""A server process settles its heap out of the collector's way; tests' apps do not."""

from __future__ import annotations

import subprocess
import sys

from shared.runtime_gc import THRESHOLDS

SETTLE = """
import gc
from shared.runtime_gc import settle_heap
before = gc.get_freeze_count()
settle_heap()
print(before, gc.get_freeze_count() > 1000, gc.get_threshold())
"""


def test_settling_freezes_the_heap_and_collects_the_young_less_often() -> None:
    # In a process of its own: a frozen heap stays frozen.
    done = subprocess.run(
        [sys.executable, "-c", SETTLE], capture_output=True, text=True, check=True, timeout=60
    )

    before, frozen, thresholds = done.stdout.strip().split(" ", 2)
    assert (before, frozen) == ("0", "True")
    assert thresholds == str(THRESHOLDS)


async def test_an_app_made_for_a_test_leaves_the_collector_alone(app) -> None:
    import gc

    assert gc.get_freeze_count() == 0
