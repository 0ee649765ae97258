"""What a node logged, for the tests that say a bad day is logged as a few lines, not a flood of
tracebacks: the log file of a node process, or the records of a server in the test's own loop."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator

# uvicorn's line for an exception that escaped the app, and Python's for any traceback.
TROUBLE = ("Traceback", "Exception in ASGI application")
# Lines that say something is away or back (the store's, the bus's, a live stream's).
OUTAGE_LINE = re.compile(r"unavailable|unreachable|is back|live stream", re.I)


def trouble(text: str) -> list[str]:
    """The lines of `text` that show an exception escaped or was logged with its traceback."""
    return [line for line in text.splitlines() if any(t in line for t in TROUBLE)]


def outage_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if OUTAGE_LINE.search(line)]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def captured() -> Iterator[list[str]]:
    """The warnings and errors logged meanwhile by this process, tracebacks included, each
    as one string. uvicorn's own loggers do not propagate to the root: both are watched."""
    handler = _Collect()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
