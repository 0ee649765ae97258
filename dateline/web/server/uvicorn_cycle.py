"""Direct writes under uvicorn's httptools protocol: each frame goes out as one HTTP/1.1 chunk with
one `transport.write`, without a coroutine and a message per reader per event. It cuts the hub's
time per reader by about a quarter (docs/benchmarks.md).

This reads uvicorn's private request cycle (`transport`, `flow.write_paused`, `disconnected`,
`response_complete`, `chunked_encoding`): pyproject.toml pins uvicorn to the versions tested, and
tests/test_fanout.py fails if the installed uvicorn no longer has them. The setting
`direct_writes` turns this off."""

from __future__ import annotations

from typing import Any

from starlette.types import Send

_HttptoolsCycle: type[Any] | None
try:  # uvicorn's fast HTTP/1.1 protocol; without httptools uvicorn uses h11 instead
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    _HttptoolsCycle = RequestResponseCycle
except ImportError:  # pragma: no cover
    _HttptoolsCycle = None


class ChunkWriter:
    """Writes chunks of a chunked HTTP/1.1 response body straight to the connection: what
    uvicorn's `send` does for body bytes. Only for uvicorn's httptools protocol; any other
    server, h11, HTTP/1.0 or HEAD: `find` answers None."""

    __slots__ = ("_cycle",)

    def __init__(self, cycle: Any) -> None:
        self._cycle = cycle

    @classmethod
    def find(cls, server_send: Send) -> ChunkWriter | None:
        """The writer for the response `server_send` belongs to, once its start has been sent;
        else None."""
        cycle: Any = getattr(server_send, "__self__", None)
        if _HttptoolsCycle is None or not isinstance(cycle, _HttptoolsCycle):
            return None
        if cycle.chunked_encoding is not True or cycle.response_complete:
            return None
        return cls(cycle)

    def write(self, data: bytes, chunk: bytes) -> bool | None:
        cycle = self._cycle
        transport = cycle.transport
        if (
            cycle.flow.write_paused
            or cycle.disconnected
            or cycle.response_complete
            or transport.is_closing()
        ):
            return None
        transport.write(chunk)
        return not cycle.flow.write_paused

    async def drained(self) -> bool:
        return True  # a backed-up connection is never written to directly
