"""Survivors of a full garbage collection are frozen, and thawed on a timer so that a cycle
among them that became garbage is still freed."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator

import pytest

from dateline.web.server.gc import FrozenSurvivors


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
async def survivors() -> AsyncIterator[FrozenSurvivors]:
    gc.unfreeze()
    tuned = FrozenSurvivors(thaw_seconds=0.3)
    tuned.start()
    yield tuned
    await tuned.close()


async def _thawed(within: float = 5.0) -> None:
    """Wait for the timer's thaw (polled: the timer is 0.3 s, a loaded machine may be late)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while gc.get_freeze_count() != 0:
        assert loop.time() < deadline, "never thawed on the timer"
        await asyncio.sleep(0.02)


async def test_a_full_collection_freezes_its_survivors(survivors: FrozenSurvivors) -> None:
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gc.get_freeze_count() > 1000
    await _thawed()


async def test_a_cycle_frozen_while_alive_is_freed_after_the_thaw(
    survivors: FrozenSurvivors,
) -> None:
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    gc.collect()  # a and b are alive: frozen
    del a, b
    gc.collect()
    assert gone() is not None, "frozen objects wait for the thaw"
    await _thawed()
    gc.collect()
    assert gone() is None


async def test_closing_thaws_and_stops_freezing(survivors: FrozenSurvivors) -> None:
    gc.collect()
    await survivors.close()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gc.get_freeze_count() == 0


async def test_zero_seconds_turns_freezing_off() -> None:
    gc.unfreeze()
    off = FrozenSurvivors(thaw_seconds=0)
    off.start()
    gc.collect()
    assert gc.get_freeze_count() == 0
    await off.close()
