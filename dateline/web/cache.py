"""The read path's cache: each rendered page or JSON answer is kept per blog seq.

A blog's content changes only with an event, so `(what, blog, last_seq)` names one exact version:
invalidation is exact, the strong ETag is free, and the gzip and brotli encodings are made once
per version instead of once per request. A CDN or nginx cache in front may serve the answers for a
few seconds (Cache-Control below); a reader who gets a slightly stale page misses nothing, because
the page carries the seq it was rendered at and its live stream resumes from there."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import brotli
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from dateline.model import Blog
from dateline.store import Store
from dateline.web import security

# How long a read waits for a fresh blog header before it answers from the one it has.
_PATIENCE = 0.25
# Shared caches may keep an answer this long, and serve it stale while fetching a fresh one.
CACHE_CONTROL = "public, max-age=5, stale-while-revalidate=30"
_MIN_COMPRESS = 512


@dataclass(frozen=True)
class Entry:
    body: bytes
    gzip: bytes | None
    brotli: bytes | None
    etag: str
    media_type: str
    content_type: bytes  # the Content-Type header as the app sends it
    # A page with embeds: its Content-Security-Policy, allowing exactly their frames.
    csp: str | None = None


class RenderCache:
    def __init__(self, build: str, size: int = 512) -> None:
        self._build = build  # changes with the code and the static files
        self._entries: OrderedDict[tuple[str, ...], Entry] = OrderedDict()
        self._size = size
        # URL (scheme, host, path, query) → (slug, what, origin): lets web/fast.py find the
        # cached answer for a URL the app has already answered once, without routing.
        self._routes: dict[tuple[str, ...], tuple[str, tuple[str, ...], str]] = {}
        self.hits = 0
        self.misses = 0

    def lookup(self, key: tuple[str, ...]) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self.hits += 1
        return entry

    def route(self, url: tuple[str, ...]) -> tuple[str, tuple[str, ...], str] | None:
        return self._routes.get(url)

    def remember(self, url: tuple[str, ...], target: tuple[str, tuple[str, ...], str]) -> None:
        if len(self._routes) > 10_000:  # many distinct URLs (cursors, hosts): start over
            self._routes.clear()
        self._routes[url] = target

    async def respond(
        self,
        request: Request,
        key: tuple[str, ...],
        render: Callable[[], Awaitable[bytes]],
        media_type: str,
        tag: Callable[[], str] | None = None,
    ) -> Response:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            body = await render()
            entry = _entry(body, media_type, key, self._build, tag() if tag else "")
            self._entries[key] = entry
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        else:
            self.hits += 1
            self._entries.move_to_end(key)
        headers = {"ETag": entry.etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
        if entry.csp is not None:
            headers["Content-Security-Policy"] = entry.csp
        if entry.etag in etags(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
        accepted = request.headers.get("accept-encoding", "")
        body = entry.body
        if entry.brotli is not None and "br" in accepted:
            body, headers["Content-Encoding"] = entry.brotli, "br"
        elif entry.gzip is not None and "gzip" in accepted:
            body, headers["Content-Encoding"] = entry.gzip, "gzip"
        return Response(body, media_type=media_type, headers=headers)


async def cached(
    request: Request,
    blog: Blog,
    key: tuple[str, ...],
    render: Callable[[], Awaitable[bytes]],
    media_type: str,
    *,
    shared: bool = True,
    tag: Callable[[], str] | None = None,
) -> Response:
    """Serve one version of something a blog shows: built once per (what, blog seq, host).
    Not `shared` (a draft blog, read by its newsroom): rendered for this request alone, kept
    out of every cache. `tag`, called after `render`: what the ETag starts with (a post's
    names its revision, which an edit sends back as If-Match)."""
    if not shared:
        body = await render()
        headers = {"Cache-Control": "private, no-store"}
        if tag is not None:
            headers["ETag"] = _etag(body, key, "", tag())
        csp = frame_policy(body, media_type, key)
        if csp is not None:
            headers["Content-Security-Policy"] = csp
        return Response(body, media_type=media_type, headers=headers)
    origin = f"{request.url.scheme}://{request.url.netloc}"
    full_key = (*key, blog.slug, str(blog.last_seq), origin)
    cache: RenderCache = request.app.state.services.render_cache
    response = await cache.respond(request, full_key, render, media_type, tag)
    cache.remember(request_key(request.scope), (blog.slug, key, origin))
    return response


class BlogHeaders:
    """Blog rows by slug for the read path, reused for up to `max_age` seconds unless the hub
    has heard of a newer seq. Every request for a page needs the blog's last seq (the cache
    key); this spares the store that query on all but about one request per blog per second.
    A page may thus lag an event by at most `max_age` — less than the Cache-Control that
    shared caches are allowed anyway, and the page's live stream replays whatever it lacks.

    While the store is unavailable the last row fetched is used however old it is, so pages,
    feeds and deltas already rendered for it are still served (stale but correct: each
    carries its seq, and readers' streams resume from there when the store is back)."""

    def __init__(self, store: Store, heard: dict[int, int], max_age: float = 1.0) -> None:
        self._store = store
        self._heard = heard
        self._max_age = max_age
        self._rows: dict[str, tuple[float, Blog]] = {}
        self._refreshing: dict[str, asyncio.Task[Blog]] = {}

    async def get(self, slug: str) -> Blog:
        now = time.monotonic()
        hit = self._rows.get(slug)
        if hit is not None:
            fetched, blog = hit
            assert blog.id is not None
            if now - fetched < self._max_age and self._heard.get(blog.id, 0) <= blog.last_seq:
                return blog
        refresh = self._refreshing.get(slug)
        if refresh is None:
            refresh = asyncio.create_task(self._fetch(slug))
            self._refreshing[slug] = refresh
            refresh.add_done_callback(lambda done: self._fetched(slug, done))
        if hit is None:
            return await asyncio.shield(refresh)
        # A row is at hand: wait a moment for the fresh one, and if the store is slow or away,
        # answer with what we have (the refresh goes on, for the requests that follow).
        done, _ = await asyncio.wait({refresh}, timeout=_PATIENCE)
        if refresh in done and refresh.exception() is None:
            return refresh.result()
        return hit[1]

    async def _fetch(self, slug: str) -> Blog:
        fetched = time.monotonic()
        blog = await self._store.get_blog(slug)
        self._rows[slug] = (fetched, blog)
        if len(self._rows) > 10_000:
            self._rows.clear()
        return blog

    def _fetched(self, slug: str, done: asyncio.Task[Blog]) -> None:
        self._refreshing.pop(slug, None)
        if not done.cancelled():
            done.exception()  # seen: a refresh nobody waited for may fail while the store is away


def request_key(scope: Scope, headers: dict[bytes, bytes] | None = None) -> tuple[str, ...]:
    """What names one cached answer's URL: scheme, host, path and query."""
    if headers is None:
        headers = dict(scope["headers"])
    return (
        scope.get("scheme", "http"),
        headers.get(b"host", b"").decode("latin-1"),
        scope["path"],
        scope.get("query_string", b"").decode("latin-1"),
    )


def etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


_FRAME_ORIGIN = re.compile(rb'data-frame-origin="(https://[A-Za-z0-9.:-]{1,300})"')


def frame_policy(body: bytes, media_type: str, key: tuple[str, ...]) -> str | None:
    """The Content-Security-Policy of a page whose embeds may load frames: exactly their
    origins (a reader's click loads one of them; nothing else may be framed). None: the
    default policy (web/security.py) applies."""
    if not media_type.startswith("text/html") or b"data-frame-origin" not in body:
        return None
    origins = sorted({m.decode() for m in _FRAME_ORIGIN.findall(body)})
    return security.with_frames("embed" if key[0] == "embed" else "reader", origins)


def _etag(body: bytes, key: tuple[str, ...], build: str, tag: str) -> str:
    # Strong: a different body (or build, or URL) is a different tag, whatever `tag` says.
    digest = hashlib.sha256("\0".join((build, *key)).encode() + body).hexdigest()[:20]
    return f'"{tag}{digest}"'


def _entry(body: bytes, media_type: str, key: tuple[str, ...], build: str, tag: str = "") -> Entry:
    small = len(body) < _MIN_COMPRESS
    return Entry(
        body=body,
        gzip=None if small else gzip.compress(body, 6),
        brotli=None if small else brotli.compress(body, quality=5),
        etag=_etag(body, key, build, tag),
        media_type=media_type,
        content_type=Response(b"", media_type=media_type).headers["content-type"].encode(),
        csp=frame_policy(body, media_type, key),
    )
