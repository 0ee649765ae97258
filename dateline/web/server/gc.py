"""Short garbage-collector pauses for a process that holds thousands of live connections.

CPython's full collection walks every object it tracks, and it runs each time the long-lived
objects have grown by a quarter. While 10,000 readers connect to one node that is a pause of up
to half a second (docs/benchmarks.md), during which no frame goes out to anyone. So after each
full collection the survivors are frozen (`gc.freeze`): the next one walks only what is newer,
and pauses stay in the tens of milliseconds.

A frozen object that later becomes part of an unreachable cycle is not freed until it is thawed:
every `thaw_seconds` everything is unfrozen, and the next full collection looks at all of it
once. A closed live connection leaves no such cycle under uvicorn with uvloop (measured), so
between thaws little if anything waits."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from typing import Any


class FrozenSurvivors:
    def __init__(self, thaw_seconds: float) -> None:
        self.thaw_seconds = thaw_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.thaw_seconds <= 0:
            return  # turned off: CPython's own schedule
        gc.callbacks.append(self._collected)
        self._task = asyncio.create_task(self._thaw(), name="dateline-gc-thaw")

    async def close(self) -> None:
        if self._task is None:
            return
        gc.callbacks.remove(self._collected)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        gc.unfreeze()

    @staticmethod
    def _collected(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    async def _thaw(self) -> None:
        while True:
            await asyncio.sleep(self.thaw_seconds)
            gc.unfreeze()
