"""`GET /api/v1/blogs/{slug}/events?after=N`: the live stream as a pollable, cacheable delta."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dateline.errors import BadRequest
from dateline.web.cache import cached
from dateline.web.live.stream import resume_point
from dateline.web.reader.access import readable_blog
from dateline.web.services import services


async def events_delta(request: Request) -> Response:
    """`{"events": [...], "last_seq": N}`: the events after N, as the live stream sends them."""
    found = services(request)
    blog, shared = await readable_blog(request)
    after = resume_point(request)
    raw = request.query_params.get("limit", "500")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise BadRequest("limit must be a whole number from 1 to 1000", field="limit")
    limit = int(raw)
    assert blog.id is not None
    blog_id = blog.id

    async def body() -> bytes:
        events = await found.store.events_after(blog_id, after, limit=limit)
        items = [(await found.encoder.encode(e))[0] for e in events]
        last_seq = max(blog.last_seq, events[-1].seq if events else 0)
        return orjson.dumps({"events": items, "last_seq": last_seq})

    key = ("delta", str(after), str(limit))
    return await cached(request, blog, key, body, "application/json", shared=shared)
