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

from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

import orjson
from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from dateline.errors import BadRequest
from dateline.hub import CLOSED, HEARTBEAT, Hub
from dateline.model import Blog, BlogStatus, Event
from dateline.payloads import event_json
from dateline.store import Store
from dateline.web.cache import cached
from dateline.web.views import post_view

_BACKLOG_PAGE = 500
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


async def live(request: Request) -> Response:
    state = request.app.state
    blog = await state.store.get_blog(request.path_params["slug"])
    after = resume_point(request)
    assert blog.id is not None
    ended = blog.status is BlogStatus.ENDED
    stream = _stream(state.store, state.hub, state.encoder, blog.id, after, ended, state.settings)
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx: pass each frame on at once
        },
    )


async def _stream(
    store: Store,
    hub: Hub,
    encoder: EventEncoder,
    blog_id: int,
    after: int,
    ended: bool,
    settings: Any,
) -> AsyncIterator[bytes]:
    # Subscribe before reading the backlog: an event committed in between is then both in the
    # backlog and in the queue, and the seq check below drops the copy, instead of being in neither.
    sub = hub.subscribe(blog_id)
    try:
        yield b"retry: %d\n\n: connected\n\n" % settings.sse_retry_ms
        last = after
        while True:
            backlog = await store.events_after(blog_id, last, limit=_BACKLOG_PAGE)
            for event in backlog:
                yield await encoder.frame(event)
                last = event.seq
            if len(backlog) < _BACKLOG_PAGE:
                break
        if ended:
            yield END_FRAME
            return
        while True:
            item = await sub.get()
            if item == HEARTBEAT:
                yield b": heartbeat\n\n"
                continue
            if item == CLOSED or isinstance(item, str):
                return  # cut off for falling behind: the browser reconnects and catches up
            seq, frame = item
            if seq <= last:
                continue
            if seq > last + 1:  # a hole (this node's hub started after our backlog read)
                for event in await store.events_after(blog_id, last, until=seq - 1):
                    yield await encoder.frame(event)
                    last = event.seq
            yield frame
            last = seq
            if _ENDED_MARK in frame:
                yield END_FRAME
                return
    finally:
        hub.unsubscribe(sub)


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
