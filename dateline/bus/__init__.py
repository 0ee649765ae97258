"""The bus tells every node "blog B is at seq N" after a change commits. It carries only
notifications; the store is the truth, so a lost notification delays an event but never loses it
(the hub fetches what it lacks from the event log).

Backends are chosen by URL: `memory://` (one process, the default) and `redis://…` (any number of
processes and machines). Both behave alike (one contract test suite runs against each)."""

from __future__ import annotations

from dateline.bus.protocol import Bus, Listener
from dateline.errors import Invalid


def open_bus(url: str) -> Bus:
    scheme = url.split(":", 1)[0]
    if scheme == "memory":
        from dateline.bus.memory import MemoryBus

        return MemoryBus()
    if scheme in ("redis", "rediss", "unix"):
        from dateline.bus.redis import RedisBus

        return RedisBus(url)
    raise Invalid(
        f"bus URL {url!r} is not supported; use memory:// (one process) or redis://HOST:6379/0",
        field="bus_url",
    )


__all__ = ["Bus", "Listener", "open_bus"]
