"""Direct writes under any ASGI server: the server's `send` of body bytes, run by hand up to its
first wait, in the hub's own step of the event loop.

An ASGI server's `send` of body bytes writes them to the socket at once and returns without
waiting, unless the connection is backed up. So a hub can write one frame to thousands of
connections in one loop instead of waking thousands of tasks. This drives the coroutine the
server's `send` returns, which is not how ASGI is meant to be called: it lives here, with the
other shortcuts that depend on servers' behaviour, and the setting `direct_writes` turns it off."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from starlette.types import Message, Send


def send_now(send: Send, message: Message) -> asyncio.Future[None] | None:
    """Run `send(message)` up to its first wait. None: the bytes are sent. Else a future that
    finishes the send (the rest of the coroutine runs in its own task)."""
    sent = send(message)
    if not isinstance(sent, Coroutine):
        return asyncio.ensure_future(sent)
    try:
        waiting = sent.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_finish(sent, waiting))


async def _finish(coro: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Drive a coroutine that `send_now` started, from where it stopped, to its end."""
    try:
        while True:
            if isinstance(waiting, asyncio.Future):
                await asyncio.wait((waiting,))
            else:
                await asyncio.sleep(0)  # a bare `yield` asks for one turn of the loop
            try:
                waiting = coro.send(None)
            except StopIteration:
                return
    except BaseException:
        coro.close()
        raise


def _seen(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


class SendWriter:
    """A live stream's direct writer through the ASGI `send`."""

    __slots__ = ("_pending", "_send")

    def __init__(self, send: Send) -> None:
        self._send = send
        self._pending: asyncio.Future[None] | None = None

    def write(self, data: bytes, chunk: bytes) -> bool | None:
        if self._pending is not None and not self._pending.done():
            return None
        message = {"type": "http.response.body", "body": data, "more_body": True}
        pending = send_now(self._send, message)
        if pending is None:
            return True
        # Its failure is handled when the reader next writes; mark it seen meanwhile.
        pending.add_done_callback(_seen)
        self._pending = pending
        return False

    async def drained(self) -> bool:
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending
        return True
