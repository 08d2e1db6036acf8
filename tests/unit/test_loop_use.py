"""The loop-CPU meter the "does not spin" tests rely on counts the event
loop's thread and nothing else."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tests.fixtures.loop_use import loop_cpu


def _burn(seconds: float) -> None:
    """Spin on the CPU for ``seconds`` of this thread's CPU time."""
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


async def test_cpu_burnt_by_a_task_on_the_loop_is_counted():
    """A task that spins on the loop is what the meter exists to see."""
    async def spinning_task() -> None:
        _burn(0.3)

    with loop_cpu() as cpu:
        await asyncio.create_task(spinning_task())

    assert cpu.seconds >= 0.3


async def test_cpu_burnt_by_another_thread_is_not_counted():
    """A busy worker thread (a database driver's, say) is not the loop's
    CPU: it leaves the measure of an idle loop near zero."""
    with loop_cpu() as cpu:
        await asyncio.to_thread(_burn, 0.5)

    assert cpu.seconds < 0.1


def test_the_meter_needs_a_running_loop():
    """Outside a coroutine there is no event loop thread to measure."""
    with pytest.raises(RuntimeError):
        with loop_cpu():
            pass


async def test_the_meter_reads_the_loop_thread_from_another_thread():
    """so_far() reads the loop thread's clock, whichever thread asks."""
    with loop_cpu() as cpu:
        _burn(0.2)
        seen: list[float] = []
        reader = threading.Thread(target=lambda: seen.append(cpu.so_far()))
        reader.start()
        reader.join()

    assert seen[0] >= 0.2
