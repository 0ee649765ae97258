"""Everything that depends on a server's private internals or behaviour, in one place, installed
only by `dateline serve` (and by tests that stand in for it):

    uvicorn_cycle.py  frames written as raw chunks to uvicorn's httptools connections
    send.py           frames written through the ASGI `send`, driven by hand, under other servers
    gc.py             freezing the survivors of full garbage collections
    run.py            starting uvicorn with Dateline's limits

`served_app(settings)` is the app as `dateline serve` runs it: `create_app(settings)` plus these.
Without them the app is plain ASGI and runs under any server, only slower with many readers."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from dateline.config import Settings
from dateline.web.app import create_app
from dateline.web.live.stream import DIRECT_WRITES, DirectWriter
from dateline.web.server.gc import FrozenSurvivors
from dateline.web.server.limits import GuardedHttpToolsProtocol
from dateline.web.server.send import SendWriter
from dateline.web.server.uvicorn_cycle import ChunkWriter


def find_writer(server_send: Send, send: Send) -> DirectWriter | None:
    """The fastest direct writer for a live response: raw chunks where uvicorn's httptools
    protocol carries it, else the ASGI `send` driven by hand."""
    return ChunkWriter.find(server_send) or SendWriter(send)


class ServedApp:
    """The app, with the server-specific shortcuts the settings allow."""

    def __init__(self, app: Starlette, settings: Settings) -> None:
        self.app = app
        self.direct_writes = settings.direct_writes
        self.survivors = FrozenSurvivors(settings.gc_thaw_seconds)

    @property
    def state(self) -> Any:
        return self.app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        if not self.direct_writes or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[DIRECT_WRITES] = partial(find_writer, send)
        try:
            await self.app(scope, receive, send)
        finally:
            # The server's send holds its request cycle, which holds the scope: a cycle that
            # only the garbage collector's slow full pass would free.
            scope.pop(DIRECT_WRITES, None)

    def _keep_room(self) -> None:
        """Live streams stop short of the connection cap: a tenth of it stays for the
        newsroom, the API and page reads."""
        services = getattr(self.app.state, "services", None)
        if services is None:
            return
        cap = GuardedHttpToolsProtocol.max_connections
        room = max(1, cap // 10)
        services.live_limit = max(1, min(services.settings.max_live_readers, cap - room))

    def _lifespan_send(self, send: Send) -> Callable[[Message], Any]:
        async def lifespan_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.survivors.start()
                self._keep_room()
            elif message["type"].startswith("lifespan.shutdown"):
                await self.survivors.close()
            await send(message)

        return lifespan_send


def served_app(settings: Settings | None = None) -> ServedApp:
    settings = settings or Settings.load()
    return ServedApp(create_app(settings), settings)
