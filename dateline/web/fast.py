"""The hot paths, served in front of the Starlette app.

Nearly every request a live blog gets under load is one of two kinds: a read of something already
rendered for the blog's current seq (the page, the feed, the JSON), or a live stream. Both are
served here, before routing and middleware, which cost more than the answer itself; anything
else, and any request these paths are not sure of, goes to the app unchanged.

* A cached read: the first request for a URL goes through the app, which renders and caches the
  answer (web/cache.py) and notes the URL's cache key. Later requests for that URL, host and
  scheme look up the blog's current seq (web/cache.BlogHeaders, a dict hit) and, if that version is
  cached, are answered from it, with the same ETag, 304 and encodings as the app would send.
* A live stream: `GET /{slug}/live` is answered by web/live/stream.LiveResponse with the
  server's own `send`; validation errors still come from the app, as JSON."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from dateline.errors import DatelineError
from dateline.web.cache import CACHE_CONTROL, Entry, etags, request_key
from dateline.web.live.stream import live
from dateline.web.services import Services

_LIVE = re.compile(r"^/([^/]+)/live$")


class FastPaths:
    """The app's outermost middleware (inside Starlette's own error handler only)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.endswith("/live") and _LIVE.match(path):
            await self._live(scope, receive, send)
            return
        state: Services = scope["app"].state.services
        cache = state.render_cache
        headers = _headers(scope)
        known = cache.route(request_key(scope, headers))
        if known is not None:
            slug, key, origin = known
            try:
                blog = await state.blogs.get(slug)
            except DatelineError:
                blog = None
            if blog is not None:
                entry = cache.lookup((*key, slug, str(blog.last_seq), origin))
                if entry is not None:
                    await _answer(entry, headers, scope["method"] == "HEAD", send)
                    return
        await self.app(scope, receive, send)

    async def _live(self, scope: Scope, receive: Receive, send: Send) -> None:
        slug = _LIVE.match(scope["path"]).group(1)  # type: ignore[union-attr]
        scope["path_params"] = {"slug": slug}
        try:
            response = await live(Request(scope, receive))
        except DatelineError:
            # Unknown blog, bad resume point: let the app answer with its error JSON.
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope["headers"])


async def _answer(entry: Entry, headers: dict[bytes, bytes], head: bool, send: Send) -> None:
    out = [
        (b"etag", entry.etag.encode()),
        (b"cache-control", CACHE_CONTROL.encode()),
        (b"vary", b"Accept-Encoding"),
    ]
    if entry.csp is not None:
        out.append((b"content-security-policy", entry.csp.encode()))
    if entry.etag in etags(headers.get(b"if-none-match", b"").decode("latin-1")):
        await send({"type": "http.response.start", "status": 304, "headers": out})
        await send({"type": "http.response.body", "body": b""})
        return
    accepted = headers.get(b"accept-encoding", b"")
    body = entry.body
    if entry.brotli is not None and b"br" in accepted:
        body = entry.brotli
        out.append((b"content-encoding", b"br"))
    elif entry.gzip is not None and b"gzip" in accepted:
        body = entry.gzip
        out.append((b"content-encoding", b"gzip"))
    out.append((b"content-type", entry.content_type))
    out.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": out})
    await send({"type": "http.response.body", "body": b"" if head else body})
