"""The worker's loops stop between passes, not in the middle of one."""

from __future__ import annotations

import asyncio

import pytest

from services.worker import relay
from services.worker.stopping import pause, stop_loops


async def test_a_pass_under_way_finishes_before_its_loop_returns() -> None:
    stopping = asyncio.Event()
    in_pass = asyncio.Event()
    finish_pass = asyncio.Event()
    passes: list[str] = []

    async def loop() -> None:
        while not stopping.is_set():
            passes.append("started")
            in_pass.set()
            await finish_pass.wait()  # a write under way
            passes.append("finished")
            await pause(stopping, 3600)

    task = asyncio.create_task(loop())
    await in_pass.wait()
    stopper = asyncio.create_task(stop_loops([task], stopping, within=30))
    await asyncio.sleep(0.05)
    assert not stopper.done() and not task.done()
    finish_pass.set()
    await asyncio.wait_for(stopper, 5)

    assert passes == ["started", "finished"]
    assert task.done() and not task.cancelled()


async def test_a_loop_that_does_not_return_in_time_is_cancelled() -> None:
    stopping = asyncio.Event()

    async def stuck() -> None:
        await asyncio.Event().wait()

    task = asyncio.create_task(stuck())
    await asyncio.sleep(0)
    await asyncio.wait_for(stop_loops([task], stopping, within=0.05), 5)

    assert stopping.is_set()
    assert task.cancelled()


async def test_pause_ends_when_stopping_is_set() -> None:
    stopping = asyncio.Event()
    sleeper = asyncio.create_task(pause(stopping, 3600))
    await asyncio.sleep(0.01)
    assert not sleeper.done()
    stopping.set()
    await asyncio.wait_for(sleeper, 5)
    # And it ends by itself after its time.
    await asyncio.wait_for(pause(asyncio.Event(), 0.01), 5)


async def test_the_relay_returns_after_its_pass_once_asked_to_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Publisher:
        redelivers = False

    stopping = asyncio.Event()
    passes = 0

    async def relay_once(*_args: object, **_kwargs: object) -> None:
        nonlocal passes
        passes += 1
        stopping.set()  # asked to stop while this pass runs

    monkeypatch.setattr(relay, "relay_once", relay_once)
    loop = relay.run_relay(None, Publisher(), interval=3600, stopping=stopping)  # type: ignore[arg-type]
    await asyncio.wait_for(loop, 5)

    assert passes == 1
