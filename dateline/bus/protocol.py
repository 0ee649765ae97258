"""The Bus protocol every backend implements (and tests/test_bus.py checks, on each)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

Listener = Callable[[int, int], Awaitable[None]]


class Bus(Protocol):
    healthy: bool
    """False while notifications may be lost (Redis down): hubs then poll the event log."""

    async def start(self, listener: Listener) -> None:
        """Begin delivering every notification (from any node) to `listener(blog_id, seq)`, in
        the order each node published them, from a task of the bus's own."""

    def publish(self, blog_id: int, seq: int) -> None:
        """Announce that `blog_id` has committed up to `seq`. Returns at once: it never waits
        for this node's readers or for the network, and never raises (the write it announces
        is committed; a lost notification only delays readers, who are polled for)."""

    async def close(self) -> None: ...
