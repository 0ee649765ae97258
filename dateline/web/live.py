"""The live stream (Server-Sent Events) and the pollable delta, both built from the event log.

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
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any

import orjson
from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from dateline.errors import BadRequest
from dateline.hub import CLOSED, HEARTBEAT, Hub, Item, Subscription
from dateline.model import Blog, BlogStatus, Event
from dateline.payloads import event_json
from dateline.store import Store
from dateline.web.cache import cached
from dateline.web.views import post_view

_HttptoolsCycle: type[Any] | None
try:  # uvicorn's fast HTTP/1.1 protocol; without httptools uvicorn uses h11 instead
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    _HttptoolsCycle = RequestResponseCycle
except ImportError:  # pragma: no cover
    _HttptoolsCycle = None

log = logging.getLogger(__name__)

# The scope key under which the app notes the server's own `send` (web/app.DatelineApp).
SERVER_SEND = "dateline.server_send"
_BACKLOG_PAGE = 500
_HEARTBEAT_FRAME = b": heartbeat\n\n"
# Sent after `blog.ended`: a script closes its EventSource; any other client waits a day to retry.
END_FRAME = b'retry: 86400000\nevent: end\ndata: {"reason": "ended"}\n\n'
# orjson writes no spaces, and a quote inside a post's text is escaped, so only the event's own
# top-level type can match this.
_ENDED_MARK = b'"type":"blog.ended"'
_MAX_SEQ = 2**31 - 1  # seqs are 32-bit integers in the store


class EventEncoder:
    """Event → JSON (with the post's HTML fragment) → SSE frame, once per event per node."""

    def __init__(self, store: Store, templates: Environment, *, cache_size: int = 4096) -> None:
        self._store = store
        self._fragment = templates.get_template("_post.html")
        self._cache: OrderedDict[tuple[int, int], tuple[dict[str, Any], bytes]] = OrderedDict()
        self._cache_size = cache_size

    async def encode(self, event: Event) -> tuple[dict[str, Any], bytes]:
        key = (event.blog_id, event.seq)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        blog = await self._store.get_blog_by_id(event.blog_id)
        data = self._with_html(event_json(event), blog)
        frame = b"id: %d\ndata: %s\n\n" % (event.seq, orjson.dumps(data))
        self._cache[key] = (data, frame)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return data, frame

    async def frame(self, event: Event) -> bytes:
        return (await self.encode(event))[1]

    def _with_html(self, data: dict[str, Any], blog: Blog) -> dict[str, Any]:
        post = data.get("post")
        if post and post.get("status") == "published":
            data["html"] = self._fragment.render(p=post_view(post, blog)).strip()
        return data


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


async def live(request: Request) -> LiveResponse:
    state = request.app.state
    blog = await state.store.get_blog(request.path_params["slug"])
    after = resume_point(request)
    assert blog.id is not None
    return LiveResponse(blog.id, after, ended=blog.status is BlogStatus.ENDED)


_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each frame on at once
]


class LiveResponse:
    """One reader's stream, as an ASGI response.

    The reader's task writes the start of the stream (the backlog from the store), then lets
    the hub write each new frame straight to the connection while the reader is caught up and
    its connection takes the bytes at once: no task wakes per reader per event. When a write
    has to wait (a slow connection), when there is a hole in the seqs or when coverage ends,
    frames go through the reader's bounded queue and its task, as before. A second, idle task
    waits for the client to go away and ends the stream."""

    def __init__(self, blog_id: int, after: int, *, ended: bool) -> None:
        self.blog_id, self.after, self.ended = blog_id, after, ended

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state
        hub: Hub = state.hub
        # Subscribe before reading the backlog: an event committed in between is then both in the
        # backlog and in the queue, and the seq check drops the copy, instead of being in neither.
        sub = hub.subscribe(self.blog_id)

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            hub.drop(sub)

        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
            stream = _Stream(send, sub, state.store, state.encoder, self.blog_id, self.after)
            stream.direct = ChunkWriter.find(scope)
            await stream.run(state.settings.sse_retry_ms, self.ended)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            sub.deliver = None
            hub.unsubscribe(sub)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


class _Stream:
    def __init__(
        self,
        send: Send,
        sub: Subscription,
        store: Store,
        encoder: EventEncoder,
        blog_id: int,
        after: int,
    ) -> None:
        self.send, self.sub, self.store, self.encoder = send, sub, store, encoder
        self.blog_id = blog_id
        self.last = after  # the newest seq written to this reader
        self.pending: asyncio.Future[None] | None = None  # a direct write that had to wait
        self.direct: ChunkWriter | None = None  # the connection itself, where the server allows

    async def write(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    def deliver(self, item: Item) -> bool:
        """Called by the hub, only while this reader is caught up and idle: write `item` now.
        False hands the item to the reader's queue and task instead."""
        seq = None
        if item == HEARTBEAT:
            data = _HEARTBEAT_FRAME
        elif isinstance(item, tuple):
            seq, data = item
            if seq <= self.last:
                return True  # already sent from the backlog
            if seq > self.last + 1 or _ENDED_MARK in data:
                self.sub.deliver = None  # a hole to fill from the store, or the end
                return False
        else:
            self.sub.deliver = None
            return False
        if self.direct is not None:
            written = self.direct.write(_chunk(data))
            if written is None:  # backed up or gone: the reader's task takes it from here
                self.sub.deliver = None
                return False
            if not written:
                self.sub.deliver = None  # backed up now: queue until it drains
        else:
            message = {"type": "http.response.body", "body": data, "more_body": True}
            self.pending = send_now(self.send, message)
            if self.pending is not None:
                self.sub.deliver = None  # the connection is backed up: queue until it drains
                # Its failure is handled when the reader next writes; mark it seen meanwhile.
                self.pending.add_done_callback(_seen)
        if seq is not None:
            self.last = seq
        return True

    async def run(self, retry_ms: int, ended: bool) -> None:
        await self.write(b"retry: %d\n\n: connected\n\n" % retry_ms)
        while True:
            backlog = await self.store.events_after(self.blog_id, self.last, limit=_BACKLOG_PAGE)
            for event in backlog:
                await self.write(await self.encoder.frame(event))
                self.last = event.seq
            if len(backlog) < _BACKLOG_PAGE:
                break
        if ended:
            await self.write(END_FRAME)
            return
        sub = self.sub
        while True:
            if not await self._drained():
                return
            if sub.queue.empty() and not sub.dropped:
                sub.deliver = self.deliver  # caught up: the hub may write directly
            item = await sub.get()
            sub.deliver = None
            if not await self._drained():
                return
            if item == HEARTBEAT:
                await self.write(_HEARTBEAT_FRAME)
                continue
            if item == CLOSED or isinstance(item, str):
                return  # cut off (too slow, gone, or a shutdown): browsers reconnect and catch up
            seq, frame = item
            if seq <= self.last:
                continue
            if seq > self.last + 1:  # a hole (this node's hub started after our backlog read)
                for event in await self.store.events_after(self.blog_id, self.last, until=seq - 1):
                    await self.write(await self.encoder.frame(event))
                    self.last = event.seq
            await self.write(frame)
            self.last = seq
            if _ENDED_MARK in frame:
                await self.write(END_FRAME)
                return

    async def _drained(self) -> bool:
        """Wait for a direct write that had to wait; False if the connection failed."""
        pending, self.pending = self.pending, None
        if pending is None:
            return True
        try:
            await pending
        except Exception:
            log.info("a live stream's connection failed", exc_info=True)
            return False
        return True


class ChunkWriter:
    """Writes a chunk of a chunked HTTP/1.1 response body straight to the connection: what
    uvicorn's `send` does for body bytes, without a coroutine and a message per reader per
    event. It cuts the hub's time per reader by about a quarter (docs/benchmarks.md).

    Only for uvicorn's httptools protocol, whose request cycle it reads (`transport`, `flow`,
    `disconnected`, `response_complete`, `chunked_encoding`); tests/test_fanout.py checks that
    the installed uvicorn still has them. Any other server, h11, HTTP/1.0 or HEAD: None, and
    frames go through the ASGI `send`."""

    __slots__ = ("_cycle",)

    def __init__(self, cycle: Any) -> None:
        self._cycle = cycle

    @classmethod
    def find(cls, scope: Scope) -> ChunkWriter | None:
        """The writer for this response, once its start has been sent; else None."""
        cycle: Any = getattr(scope.get(SERVER_SEND), "__self__", None)
        if _HttptoolsCycle is None or not isinstance(cycle, _HttptoolsCycle):
            return None
        if cycle.chunked_encoding is not True or cycle.response_complete:
            return None
        return cls(cycle)

    def write(self, chunk: bytes) -> bool | None:
        """None: not written (the connection is backed up, closing or gone). True: written, and
        the connection takes more. False: written, and the connection is backed up now."""
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


_last_chunk: tuple[bytes, bytes] = (b"", b"0\r\n\r\n")


def _chunk(data: bytes) -> bytes:
    """`data` framed as one HTTP/1.1 chunk; made once per event, as the hub hands the same
    bytes to every reader in turn."""
    global _last_chunk
    if _last_chunk[0] is not data:
        _last_chunk = (data, b"%x\r\n%b\r\n" % (len(data), data))
    return _last_chunk[1]


def _seen(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def send_now(send: Send, message: Message) -> asyncio.Future[None] | None:
    """Run `send(message)` up to its first wait, in the caller's own step of the event loop.

    An ASGI server's `send` of body bytes writes them to the socket at once and returns without
    waiting, unless the connection is backed up. So a hub can write one frame to thousands of
    connections in one loop instead of waking thousands of tasks. None: the bytes are sent.
    Else a future that finishes the send (the rest of the coroutine runs in its own task)."""
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


async def events_delta(request: Request) -> Response:
    """`GET /api/v1/blogs/{slug}/events?after=N` → `{"events": [...], "last_seq": N}`."""
    state = request.app.state
    blog = await state.blogs.get(request.path_params["slug"])
    after = resume_point(request)
    try:
        limit = min(max(int(request.query_params.get("limit", "500")), 1), 1000)
    except ValueError:
        raise BadRequest("limit must be a whole number", field="limit") from None
    assert blog.id is not None
    blog_id = blog.id

    async def body() -> bytes:
        events = await state.store.events_after(blog_id, after, limit=limit)
        items = [(await state.encoder.encode(e))[0] for e in events]
        last_seq = max(blog.last_seq, events[-1].seq if events else 0)
        return orjson.dumps({"events": items, "last_seq": last_seq})

    return await cached(request, blog, ("delta", str(after), str(limit)), body, "application/json")
