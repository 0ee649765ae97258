"""A pasted URL's snapshot: who, what, when and a thumbnail, from the provider's oEmbed answer or,
for providers without one, the page's Open Graph tags.

Everything read here comes from a third party and is treated as hostile: only text fields are
kept (HTML reduced to its words), each clipped to a length; the provider's HTML is read for its
frame source only and never shown; the thumbnail comes back as bytes for the newsroom's image
pipeline (checked, re-encoded, stored in Dateline's own media), never as a link to the provider.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import nh3
import orjson

from dateline.embeds import providers
from dateline.embeds.fetch import FetchFailed, Guard, fetch
from dateline.embeds.providers import Provider
from dateline.model import Embed, EmbedState

MAX_JSON = 512 * 1024
MAX_PAGE = 1024 * 1024
MAX_THUMBNAIL = 5 * 1024 * 1024
_KINDS = ("video", "rich", "photo", "link")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Sources:
    """Where snapshots come from: the provider list, the operator's overrides and tokens."""

    guard: Guard = field(default_factory=Guard)
    # Provider name (lower case) → the oEmbed endpoint to ask instead of the listed one, or, for
    # a provider read from its page (Telegram, Threads), the origin to read the page from.
    endpoints: Mapping[str, str] = field(default_factory=dict)
    providers_file: str = ""
    meta_token: str = ""


@dataclass(frozen=True)
class Taken:
    embed: Embed  # READY, without a thumbnail yet
    thumbnail: bytes | None  # the picture's bytes, for the image pipeline


def _clip(value: Any, limit: int) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return ""
    text = _SPACES.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _words(markup: str, limit: int) -> str:
    """The words of a provider's HTML, without its scripts, styles or markup."""
    text = nh3.clean(markup, tags=set(), clean_content_tags={"script", "style"})
    return _clip(html.unescape(text), limit)


def _http_url(value: Any, base: str = "") -> str | None:
    if not isinstance(value, str) or len(value) > 2000:
        return None
    url = urljoin(base, value.strip()) if base else value.strip()
    return url if urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname else None


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= 10_000 else None


class _Head(HTMLParser):
    """The <head>'s Open Graph and Twitter tags, its <title> and its oEmbed discovery link."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.oembed: str | None = None
        self.title = ""
        self._in_title = False
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v or "" for k, v in attrs}
        if tag == "meta":
            key = (values.get("property") or values.get("name") or "").lower()
            if key and key not in self.meta and "content" in values:
                self.meta[key] = values["content"]
        elif tag == "link":
            rel = values.get("rel", "").lower().split()
            if "alternate" in rel and values.get("type", "").lower() == "application/json+oembed":
                self.oembed = self.oembed or values.get("href")
        elif tag == "title":
            self._in_title = True
        elif tag == "body":
            self.done = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "head":
            self.done = True

    def handle_data(self, data: str) -> None:
        if self._in_title and not self.title:
            self.title = data


def _read_head(page: bytes) -> _Head:
    head = _Head()
    text = page.decode("utf-8", errors="replace")
    # Feed in pieces so that a page whose head ends early is not parsed to its end.
    for start in range(0, len(text), 16_384):
        head.feed(text[start : start + 16_384])
        if head.done:
            break
    return head


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def _oembed(
    url: str, provider: Provider, endpoint: str, sources: Sources, allowed_hosts: frozenset[str]
) -> Taken:
    host = (urlsplit(endpoint).hostname or "").lower()
    if host not in allowed_hosts:
        raise FetchFailed(f"{host!r} is not a known oEmbed provider", retry=False)
    query = {"url": url, "format": "json", "maxwidth": "680", "omit_script": "true"}
    if provider.needs_token:
        query["access_token"] = sources.meta_token
    joined = "&" if "?" in endpoint else "?"
    answer = await fetch(
        endpoint + joined + urlencode(query), sources.guard, max_bytes=MAX_JSON, endpoint=True
    )
    try:
        data = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        raise FetchFailed(f"{host}'s oEmbed answer is not JSON", retry=False) from None
    if not isinstance(data, dict):
        raise FetchFailed(f"{host}'s oEmbed answer is not a JSON object", retry=False)
    markup = str(data["html"]) if isinstance(data.get("html"), str) else ""
    kind = data.get("type") if data.get("type") in _KINDS else "rich"
    text = _words(markup, 2000) if kind == "rich" else ""
    frame = providers.frame_for(provider, url, markup)
    embed = Embed(
        url=url,
        # Never the instance's own provider_name: readers' "always load" is kept by provider,
        # and an instance calling itself "YouTube" must not inherit that consent.
        provider=provider.name,
        state=EmbedState.READY,
        kind=str(kind),
        title=_clip(data.get("title"), 300),
        author=_clip(data.get("author_name"), 200),
        author_url=_http_url(data.get("author_url")),
        text=text,
        frame=frame,
        frame_width=_number(data.get("width")) if frame else None,
        frame_height=_number(data.get("height")) if frame else None,
        fetched_at=_now(),
    )
    picture = _http_url(data.get("thumbnail_url")) or (
        _http_url(data.get("url")) if kind == "photo" else None
    )
    return Taken(embed, await _thumbnail(picture, sources))


async def _page(url: str, provider: Provider, sources: Sources) -> Taken:
    origin = sources.endpoints.get(provider.name.lower())
    parts = urlsplit(url)
    where = (
        url
        if not origin
        else origin.rstrip("/") + parts.path + (f"?{parts.query}" * bool(parts.query))
    )
    page = await fetch(
        where, sources.guard, max_bytes=MAX_PAGE, accept="text/html", endpoint=bool(origin)
    )
    if page.content_type not in ("text/html", "application/xhtml+xml", ""):
        raise FetchFailed(f"{parts.hostname} answered {page.content_type}, not a page", retry=False)
    head = _read_head(page.body)
    discovered = _http_url(head.oembed, page.url) if head.oembed else None
    # The site says where its own oEmbed answer is: used when it is on the same host.
    same_host = discovered and urlsplit(discovered).hostname == urlsplit(page.url).hostname
    if discovered and same_host and provider.endpoint is None and not origin:
        host = (urlsplit(discovered).hostname or "").lower()
        found = Provider(provider.name, discovered)
        with contextlib.suppress(FetchFailed):  # else the page's own tags still make a card
            return await _oembed(url, found, discovered, sources, frozenset({host}))
    meta = head.meta
    title = meta.get("og:title") or meta.get("twitter:title") or head.title
    text = meta.get("og:description") or meta.get("twitter:description") or meta.get("description")
    site = meta.get("og:site_name") or ""
    named = provider.name if provider.endpoint is not None or provider.name in (
        "Telegram", "Threads"
    ) else (_clip(site, 100) or provider.name)  # fmt: skip
    embed = Embed(
        url=url,
        provider=named,
        state=EmbedState.READY,
        kind="rich" if provider.name in ("Telegram", "Threads") else "link",
        title=_clip(title, 300),
        author=_clip(meta.get("article:author") or meta.get("author") or "", 200),
        text=_clip(text or "", 2000),
        published=_clip(meta.get("article:published_time") or "", 40) or None,
        frame=providers.frame_for(provider, url),
        fetched_at=_now(),
    )
    picture = _http_url(meta.get("og:image") or meta.get("twitter:image") or "", page.url)
    return Taken(embed, await _thumbnail(picture, sources))


async def _thumbnail(url: str | None, sources: Sources) -> bytes | None:
    """The picture's bytes, or None: a missing thumbnail never fails the snapshot."""
    if url is None:
        return None
    try:
        found = await fetch(url, sources.guard, max_bytes=MAX_THUMBNAIL, accept="image/*")
    except FetchFailed:
        return None
    return found.body if found.content_type.startswith("image/") else None


async def take(url: str, sources: Sources) -> Taken:
    """The snapshot of `url`, or FetchFailed (with `retry` telling whether to try later)."""
    provider = providers.provider_for(url, sources.providers_file)
    endpoint = sources.endpoints.get(provider.name.lower())
    if provider.endpoint is None or (provider.needs_token and not sources.meta_token):
        return await _page(url, Provider(provider.name, None), sources)
    allowed = providers.endpoint_hosts(sources.providers_file) | {
        (urlsplit(e).hostname or "").lower() for e in sources.endpoints.values()
    }
    if provider.name == "Mastodon":
        allowed |= {(urlsplit(url).hostname or "").lower()}
    return await _oembed(url, provider, endpoint or provider.endpoint, sources, allowed)
