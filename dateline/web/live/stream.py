"""The live stream as Server-Sent Events, built from the event log.

Wire format of `GET /{slug}/live` (one frame per event; `id` is the blog's seq):

    retry: 3000

    : connected

    id: 42
    data: {"seq": 42, "type": "post.published", "post_id": "…", "post": {…},
           "html": "<article…", "at": "…"}      (one line on the wire)

    : heartbeat

When coverage ends, the stream sends the `blog.ended` event, then an `end` event with a long
`retry:`, and closes: the page stays as it is and its script stops listening.

A reader that reconnects sends `Last-Event-ID: 42` (browsers do this themselves) or `?after=42`
and receives exactly the events after 42, from the store, in order, once; then live ones."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dateline.errors import BadRequest, Unavailable
from dateline.hub import CLOSED, HEARTBEAT, Frame, Hub, Item, Subscription
from dateline.model import BlogStatus
from dateline.web.live import grip
from dateline.web.live.encoder import END_FRAME
from dateline.web.reader.access import readable_blog
from dateline.web.services import Services, services

log = logging.getLogger(__name__)

_BACKLOG_PAGE = 500
_HEARTBEAT = b": heartbeat\n\n"
_HEARTBEAT_CHUNK = b"%x\r\n%b\r\n" % (len(_HEARTBEAT), _HEARTBEAT)
_MAX_SEQ = 2**31 - 1  # seqs are 32-bit integers in the store


class DirectWriter(Protocol):
    """Writes a live stream's bytes to its connection at once, from the hub's own loop over
    readers, so that no task wakes per reader per event. The server layer provides one where
    the server allows (web/server/); without one, frames go through each reader's task."""

    def write(self, data: bytes, chunk: bytes) -> bool | None:
        """Write `data` (or, for a writer of raw HTTP/1.1 chunks, `chunk`). None: not written
        (the connection is backed up, closing or gone). True: written, and the connection
        takes more. False: written or under way, and the connection is backed up now."""

    async def drained(self) -> bool:
        """Wait until everything written is out; False if the connection failed meanwhile."""


# The scope key under which the server layer offers a way to find a DirectWriter for a response
# whose start has been sent: `scope[DIRECT_WRITES](send)` -> DirectWriter | None.
DIRECT_WRITES = "dateline.direct_writes"
FindWriter = Callable[[Send], DirectWriter | None]


def resume_point(request: Request) -> int:
    """Where a reader resumes: `Last-Event-ID` (set by browsers on reconnect) or `?after=`."""
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    try:
        after = int(raw)
    except ValueError:
        raise BadRequest(
            f"resume point {raw!r} is not a seq; send a whole number", field="after"
        ) from None
    if not 0 <= after <= _MAX_SEQ:
        raise BadRequest(f"resume point must be from 0 to {_MAX_SEQ}", field="after")
    return after


async def live(request: Request) -> LiveResponse | Response:
    found = services(request)
    blog, _ = await readable_blog(request)
    after = resume_point(request)
    assert blog.id is not None
    if grip.through_proxy(request, found.settings):
        return await grip.hold(
            request, found.hub, found.settings, blog_id=blog.id, slug=blog.slug, after=after,
            ended=blog.status is BlogStatus.ENDED, publisher=found.grip,
        )  # fmt: skip
    if found.hub.reader_count >= found.live_limit:
        # Room is kept for the newsroom and the API; the reader's script retries with back-off.
        raise Unavailable(
            "this node holds as many live readers as it may; reconnect in a few seconds",
            retry_after=retry_after(),
        )
    return LiveResponse(blog.id, after, ended=blog.status is BlogStatus.ENDED)


def retry_after() -> int:
    """Seconds a refused reader should wait: spread out, so that readers refused together do
    not all come back at the same moment."""
    return random.randint(2, 8)


_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each frame on at once
]


class LiveResponse:
    """One reader's stream, as an ASGI response.

    The reader's task writes the start of the stream (the backlog: from the hub's memory of
    recent frames, else from the store, one query for all the readers who resume from the same
    seq at once; if the store cannot answer, a 503 with Retry-After instead), then lets
    the hub write each new frame straight to the connection while the reader is caught up and
    its connection takes the bytes at once: no task wakes per reader per event. When a write
    has to wait (a slow connection), when there is a hole in the seqs or when coverage ends,
    frames go through the reader's bounded queue and its task, as before. A second, idle task
    waits for the client to go away and ends the stream."""

    def __init__(self, blog_id: int, after: int, *, ended: bool) -> None:
        self.blog_id, self.after, self.ended = blog_id, after, ended

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = services_of(scope)
        hub: Hub = found.hub
        # Subscribe before reading the backlog: an event committed in between is then both in the
        # backlog and in the queue, and the seq check drops the copy, instead of being in neither.
        sub = hub.subscribe(self.blog_id)

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            hub.drop(sub)

        watcher = asyncio.create_task(watch())
        try:
            try:
                first = await hub.backlog(self.blog_id, self.after, limit=_BACKLOG_PAGE)
            except Unavailable as exc:
                await _refuse(send, exc)
                return
            await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
            stream = _Stream(send, sub, hub, self.blog_id, self.after)
            find: FindWriter | None = scope.get(DIRECT_WRITES)
            stream.direct = find(send) if find is not None else None
            try:
                await stream.run(found.settings.sse_retry_ms, self.ended, first)
            except Unavailable:
                # The 200 is out: end the stream, as a shutdown does; the reader reconnects
                # with its Last-Event-ID and is refused with a 503 until the store is back.
                found.cut_short.note(stream.last)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            sub.deliver = None
            hub.unsubscribe(sub)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


async def _refuse(send: Send, exc: Unavailable) -> None:
    body = orjson.dumps(exc.to_json())
    headers = [
        (b"content-type", b"application/json"),
        (b"cache-control", b"no-store"),
        (b"retry-after", str(max(exc.retry_after, retry_after())).encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Stream:
    def __init__(self, send: Send, sub: Subscription, hub: Hub, blog_id: int, after: int) -> None:
        self.send, self.sub, self.hub = send, sub, hub
        self.blog_id = blog_id
        self.last = after  # the newest seq written to this reader
        self.direct: DirectWriter | None = None  # the connection itself, where the server allows

    async def write(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    def deliver(self, item: Item) -> bool:
        """Called by the hub, only while this reader is caught up and idle: write `item` now.
        False hands the item to the reader's queue and task instead."""
        direct = self.direct
        if direct is None:
            return False
        if item is HEARTBEAT:
            written = direct.write(_HEARTBEAT, _HEARTBEAT_CHUNK)
        elif isinstance(item, Frame):
            if item.seq <= self.last:
                return True  # already sent from the backlog
            if item.seq > self.last + 1 or item.ends_coverage:
                self.sub.deliver = None  # a hole to fill from the store, or the end
                return False
            written = direct.write(item.data, item.chunk)
            if written is not None:
                self.last = item.seq
        else:
            self.sub.deliver = None
            return False
        if written is None:  # backed up or gone: the reader's task takes it from here
            self.sub.deliver = None
            return False
        if not written:
            self.sub.deliver = None  # backed up now: queue until it drains
        return True

    async def run(self, retry_ms: int, ended: bool, backlog: list[Frame]) -> None:
        """Write the stream: `backlog` is the first page of frames after the resume point."""
        await self.write(b"retry: %d\n\n: connected\n\n" % retry_ms)
        while True:
            for frame in backlog:
                await self.write(frame.data)
                self.last = frame.seq
            if len(backlog) < _BACKLOG_PAGE:
                break
            backlog = await self.hub.backlog(self.blog_id, self.last, limit=_BACKLOG_PAGE)
        if ended:
            await self.write(END_FRAME)
            return
        sub = self.sub
        while True:
            if not await self._drained():
                return
            if sub.queue.empty() and not sub.dropped and self.direct is not None:
                sub.deliver = self.deliver  # caught up: the hub may write directly
            item = await sub.get()
            sub.deliver = None
            if not await self._drained():
                return
            if item is HEARTBEAT:
                await self.write(_HEARTBEAT)
                continue
            if item is CLOSED or not isinstance(item, Frame):
                return  # cut off (too slow, gone, or a shutdown): browsers reconnect and catch up
            frame = item
            if frame.seq <= self.last:
                continue
            while frame.seq > self.last + 1:  # a hole (the hub started after our backlog)
                missing = await self.hub.backlog(self.blog_id, self.last, limit=_BACKLOG_PAGE)
                missing = [f for f in missing if f.seq < frame.seq]
                if not missing:
                    break
                for earlier in missing:
                    await self.write(earlier.data)
                    self.last = earlier.seq
            await self.write(frame.data)
            self.last = frame.seq
            if frame.ends_coverage:
                await self.write(END_FRAME)
                return

    async def _drained(self) -> bool:
        """Wait for a direct write that had to wait; False if the connection failed."""
        if self.direct is None:
            return True
        try:
            return await self.direct.drained()
        except Exception:
            log.info("a live stream's connection failed", exc_info=True)
            return False


def services_of(scope: Scope) -> Services:
    found: Services = scope["app"].state.services
    return found
