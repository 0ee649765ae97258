"""A sliding-window limit per key (a client address), in this process's memory.

Each node counts on its own: an address spread over N nodes gets N times the limit. That is enough
for its purpose (a reader's vote button pressed in a loop, one script hammering one node); the
exact, shared guarantees (one vote per browser) are the store's."""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from dateline.errors import TooManyRequests


class RateLimit:
    def __init__(
        self,
        per_window: int,
        window_seconds: float = 60.0,
        *,
        what: str = "requests",
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_window = per_window  # 0: no limit
        self.window = window_seconds
        self.what = what
        self._max_keys = max_keys  # a flood of addresses costs bounded memory
        self._clock = clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def take(self, key: str) -> None:
        """Count one for `key`, or raise TooManyRequests (counting nothing) past the limit."""
        if self.per_window <= 0:
            return
        now = self._clock()
        times = self._seen.pop(key, None) or deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        self._seen[key] = times  # most recently used last
        if len(times) >= self.per_window:
            wait = max(1, math.ceil(times[0] + self.window - now))
            raise TooManyRequests(
                f"too many {self.what} from this address; try again in {wait} seconds",
                retry_after=wait,
            )
        times.append(now)
        while len(self._seen) > self._max_keys:
            self._seen.popitem(last=False)
