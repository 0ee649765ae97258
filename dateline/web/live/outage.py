"""Live streams ended early because the store could not fill them in (web/live/stream.py)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

log = logging.getLogger("dateline.web.live.stream")  # the streams' own log


@dataclass
class CutShortLog:
    """Streams ended because the store could not fill them in: one line every few seconds
    (every reader of a blog fails at the same moment), not one per reader. One per node, kept
    in its Services."""

    every: float = 5.0
    _last: float = float("-inf")
    _since: int = 0

    def note(self, seq: int) -> None:
        self._since += 1
        now = time.monotonic()
        if now - self._last >= self.every:
            log.warning(
                "ended %d live stream(s) early: the store is unavailable (the last at seq %d); "
                "their readers reconnect and resume",
                self._since,
                seq,
            )
            self._last, self._since = now, 0
