"""Event → JSON (with the post's HTML fragment) → SSE frame, once per event per node."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any

import orjson
from jinja2 import Environment

from dateline import render
from dateline.hub import Frame
from dateline.model import Blog, Event, EventType
from dateline.newsroom import urls
from dateline.newsroom.shapes import event_json
from dateline.store import Store
from dateline.web.reader.views import poll_view, post_view, score_view

# Sent after `blog.ended`: a script closes its EventSource; any other client waits a day to retry.
END_FRAME = b'retry: 86400000\nevent: end\ndata: {"reason": "ended"}\n\n'


def sse_frame(seq: int, data: dict[str, Any]) -> bytes:
    """One SSE frame: `id:` the seq, `data:` the event's JSON on one line (orjson escapes every
    line break and control character inside strings, so a frame is never split)."""
    return b"id: %d\ndata: %s\n\n" % (seq, orjson.dumps(data))


class EventEncoder:
    def __init__(self, store: Store, templates: Environment, *, cache_size: int = 4096) -> None:
        self._store = store
        self._fragment = templates.get_template("_post.html")
        self._score = templates.get_template("_score.html")
        self._poll = templates.get_template("_poll.html")
        self._cache: OrderedDict[tuple[int, int], tuple[dict[str, Any], Frame]] = OrderedDict()
        self._cache_size = cache_size

    async def encode(self, event: Event) -> tuple[dict[str, Any], Frame]:
        """The event's JSON (the delta's item) and its frame."""
        key = (event.blog_id, event.seq)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        blog = await self._store.get_blog_by_id(event.blog_id)
        data = self._with_html(event_json(event), blog)
        frame = Frame.of(event.seq, event.type, sse_frame(event.seq, data))
        self._cache[key] = (data, frame)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return data, frame

    async def frame(self, event: Event) -> Frame:
        return (await self.encode(event))[1]

    def _with_html(self, data: dict[str, Any], blog: Blog) -> dict[str, Any]:
        # The event's time as the page writes it, in the blog's zone at that moment (the zone's
        # abbreviation changes with daylight saving: the page cannot reuse the one it loaded).
        data["at_ap"] = render.ap_datetime(datetime.fromisoformat(data["at"]), blog.timezone)
        if data.get("blog") is not None:  # the page shows the summary as HTML
            data["summary_html"] = render.markdown_to_html(blog.summary) if blog.summary else ""
            # The score box as it was at this event ("" once taken down, or before it existed).
            score = score_view(data["blog"].get("score"))
            data["score_html"] = self._score.render(score=score).strip()
        post = data.get("post")
        if post and post.get("status") == "published":
            data["html"] = self._fragment.render(p=post_view(post, blog)).strip()
        poll = data.get("poll")
        if poll and data["type"] == EventType.POLL_RESULTS.value:
            # The poll's section alone, as the post shows it (the form posts back to the post).
            p = {"id": data["post_id"], "url": urls.post_path(blog.slug, data["post_id"])}
            data["html"] = self._poll.render(p=p, poll=poll_view(poll, blog)).strip()
        return data
