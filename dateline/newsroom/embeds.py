"""Embeds: a URL alone on a line of a post's body becomes a card from the provider's snapshot.

A post never waits for a provider. When it is saved, each such URL gets the snapshot it already
has (same URL, earlier version of the post), or one taken for the console's preview a moment
ago, or a pending link card; the post is published at once. The fetcher (one per node, sharing
the work through the store) then takes the pending snapshots, copies each thumbnail into the
media folder through the image pipeline, and updates the post: readers' pages upgrade the card
live (a `post.updated` event, no new revision). A provider that is down is asked again later,
with back-off (`embed_retry_seconds`, doubling, up to an hour, `embed_attempts` times); one that
refuses leaves the link card for good."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from dateline import render
from dateline.embeds import cards, providers, snapshot
from dateline.embeds.fetch import FetchFailed, Guard
from dateline.errors import DatelineError, Invalid
from dateline.model import Blog, Embed, EmbedState, EventType, Post, PostStatus, User
from dateline.newsroom import images, permissions, shapes
from dateline.newsroom.animations import AnimationLimits
from dateline.newsroom.permissions import Action
from dateline.newsroom.uploads import UploadCases
from dateline.store import PostChange

log = logging.getLogger(__name__)

MAX_EMBEDS = 20  # per post: each is a fetch, a thumbnail and a card
_RECENT = 256  # previewed snapshots kept for the save that follows
_RECENT_SECONDS = 600.0
_MAX_WAIT = 3600.0
_PARALLEL = 4
_PREVIEW_SECONDS = 4.0


def sources(settings_endpoints: str, trusted: str, timeout: float, providers_file: str,
            meta_token: str) -> snapshot.Sources:  # fmt: skip
    """The snapshot sources from the settings' text (`name=url,…` and `host:port,…`)."""
    endpoints: dict[str, str] = {}
    for item in filter(None, (i.strip() for i in settings_endpoints.split(","))):
        name, sep, url = item.partition("=")
        if not sep or urlsplit(url.strip()).scheme not in ("http", "https"):
            raise Invalid(
                f"embed_endpoints: {item!r} is not NAME=URL (such as youtube=https://…/oembed)",
                field="embed_endpoints",
            )
        endpoints[name.strip().lower()] = url.strip()
    hosts = {h.strip().lower() for h in trusted.split(",") if h.strip()}
    own = set()
    for url in endpoints.values():
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        own.add(f"{(parts.hostname or '').lower()}:{port}")
    return snapshot.Sources(
        guard=Guard(timeout=timeout, trusted=frozenset(hosts), endpoints=frozenset(own)),
        endpoints=endpoints,
        providers_file=providers_file,
        meta_token=meta_token,
    )


class EmbedCases(UploadCases):
    _recent_snapshots: OrderedDict[str, tuple[float, Embed]] | None = None
    _embeds_wanted: asyncio.Event | None = None
    _sources: snapshot.Sources | None = None

    @property
    def embed_sources(self) -> snapshot.Sources:
        if self._sources is None:
            s = self.settings
            self._sources = sources(s.embed_endpoints, s.embed_trusted_hosts,
                                    s.embed_timeout_seconds, s.embed_providers_file,
                                    s.embed_meta_token)  # fmt: skip
        return self._sources

    @property
    def embeds_wanted(self) -> asyncio.Event:
        """Set when a post with pending embeds is saved: the fetcher wakes at once."""
        if self._embeds_wanted is None:
            self._embeds_wanted = asyncio.Event()
        return self._embeds_wanted

    # -- planning a post's embeds (pure but for the recent snapshots) ---------------------

    def plan_embeds(self, body: str, current: list[Embed]) -> tuple[list[Embed], datetime | None]:
        """The embeds of `body`, reusing the snapshots in `current` and the recent previews;
        when the pending ones are due (None: nothing to fetch)."""
        urls = render.lone_urls(body)
        if len(urls) > MAX_EMBEDS:
            raise Invalid(
                f"body: {len(urls)} URLs alone on a line make {len(urls)} embeds; a post may "
                f"have {MAX_EMBEDS}. Put some inside a sentence to keep them as plain links",
                field="body",
            )
        known = {e.url: e for e in current if e.state is not EmbedState.PENDING}
        pending_known = {e.url: e for e in current if e.state is EmbedState.PENDING}
        planned = []
        for url in urls:
            embed = known.get(url) or self._recent(url) or pending_known.get(url)
            if embed is None:
                name = providers.provider_for(url, self.settings.embed_providers_file).name
                embed = Embed(url=url, provider=name)
            planned.append(embed)
        pending = self.settings.embeds and any(e.state is EmbedState.PENDING for e in planned)
        return planned, (self.clock() if pending else None)

    def embed_html(self, body: str, embeds: list[Embed]) -> str:
        """The body's HTML with each lone URL's card."""
        by_url = {e.url: e for e in embeds}

        def card(url: str) -> str:
            found = by_url.get(url)
            if found is None:
                name = providers.provider_for(url, self.settings.embed_providers_file).name
                found = Embed(url=url, provider=name)
            return cards.card(found)

        return render.markdown_to_html(body, card)

    def apply_body(self, post: Post, body: str) -> None:
        """Set the post's body, its embeds and its HTML together."""
        post.body = body
        post.embeds, due = self.plan_embeds(body, post.embeds)
        post.embeds_due = due
        post.body_html = self.embed_html(body, post.embeds)

    def wake_fetcher(self, post: Post) -> None:
        if post.embeds_due is not None:
            self.embeds_wanted.set()

    def _recent(self, url: str) -> Embed | None:
        found = self._recent_snapshots.get(url) if self._recent_snapshots else None
        if found is None or time.monotonic() - found[0] > _RECENT_SECONDS:
            return None
        return found[1]

    def _remember(self, embed: Embed) -> None:
        if self._recent_snapshots is None:
            self._recent_snapshots = OrderedDict()
        self._recent_snapshots[embed.url] = (time.monotonic(), embed)
        self._recent_snapshots.move_to_end(embed.url)
        while len(self._recent_snapshots) > _RECENT:
            self._recent_snapshots.popitem(last=False)

    # -- taking snapshots -------------------------------------------------------------------

    async def take_snapshot(self, url: str, within: float | None = None) -> Embed:
        """The READY snapshot of `url`, its thumbnail stored in the media folder; FetchFailed,
        or TimeoutError when the provider has not answered `within` seconds. The limit is the
        provider's: the thumbnail's processing that follows is our own work (bounded by the
        image limits), and a node's first one waits for its image worker to start."""
        taken = await asyncio.wait_for(snapshot.take(url, self.embed_sources), within)
        embed = taken.embed
        if taken.thumbnail is not None:
            embed = await self._with_thumbnail(embed, taken.thumbnail)
        self._remember(embed)
        return embed

    async def _with_thumbnail(self, embed: Embed, data: bytes) -> Embed:
        try:
            processed = await self._images.run(
                images.process_image,
                data,
                max_bytes=snapshot.MAX_THUMBNAIL,
                max_pixels=self.settings.max_contributor_image_pixels,
                widths=(640,),
                animation=AnimationLimits.from_settings(self.settings),
            )
        except DatelineError as exc:
            log.info("the thumbnail of %s was refused: %s", embed.url, exc)
            return embed
        await asyncio.to_thread(images.save_files, Path(self.settings.media_dir), processed.files)
        await self.store.add_media(
            {
                **processed.to_json(),
                "alt": "",
                "caption": embed.title or embed.text[:200],
                "credit": embed.provider,
                "uploaded_by": None,
            }
        )
        small = processed.variants[0]
        return replace(
            embed,
            thumbnail=f"/media/{small.name}",
            thumbnail_width=small.width,
            thumbnail_height=small.height,
        )

    async def preview_html(self, user: User, body: str) -> str:
        """The body as readers will see it once its embeds are fetched (the console's preview):
        each lone URL is fetched now, within the embed timeout, and remembered for the save."""
        permissions.check(user, Action.UPLOAD)  # anyone who may add pictures to a post
        urls = render.lone_urls(body)[:MAX_EMBEDS]
        found: list[Embed] = []
        if self.settings.embeds and urls:

            async def one(url: str) -> Embed | None:
                recent = self._recent(url)
                if recent is not None:
                    return recent
                try:
                    # The editor is typing: a preview never waits long for a slow provider.
                    wait = min(_PREVIEW_SECONDS, self.settings.embed_timeout_seconds)
                    return await self.take_snapshot(url, within=wait)
                except (FetchFailed, TimeoutError):
                    return None

            answers = await asyncio.gather(*(one(u) for u in urls))
            found = [e for e in answers if e is not None]
        return self.embed_html(body, found)

    # -- the fetcher's round --------------------------------------------------------------

    def _wait(self, attempts: int) -> timedelta:
        seconds = self.settings.embed_retry_seconds * 2 ** max(0, attempts - 1)
        return timedelta(seconds=min(_MAX_WAIT, seconds))

    async def fetch_due_embeds(self) -> int:
        """Fetch the pending embeds of every post whose fetch is due; the posts updated."""
        if not self.settings.embeds:
            return 0
        now = self.clock()
        # Long enough for a post's every embed (an answer and a thumbnail each, each within the
        # timeout), counted from the claim: a post fetched by one node is not fetched again by
        # another meanwhile. A node that dies delays its posts' embeds by as much.
        span = timedelta(seconds=self.settings.embed_timeout_seconds * 2 * MAX_EMBEDS + 30)
        due = await self.store.due_embeds(now)
        turns = asyncio.Semaphore(_PARALLEL)

        async def one(blog_id: int, post_id: str, when: datetime) -> bool:
            async with turns:
                if not await self.store.claim_embeds(post_id, when, self.clock() + span):
                    return False  # another node has it
                return await self._fetch_post(blog_id, post_id)

        done = await asyncio.gather(*(one(*d) for d in due))
        return sum(done)

    async def _fetch_post(self, blog_id: int, post_id: str) -> bool:
        blog = await self.store.get_blog_by_id(blog_id)
        post = await self.store.get_post(blog, post_id)
        results: dict[str, Embed | FetchFailed] = {}
        for embed in post.embeds:
            if embed.state is EmbedState.PENDING and embed.url not in results:
                try:
                    results[embed.url] = await self.take_snapshot(embed.url)
                except FetchFailed as exc:
                    log.info("embed %s of post %s: %s", embed.url, post_id, exc)
                    results[embed.url] = exc
        now = self.clock()

        def change(post: Post, current: Blog) -> PostChange:
            upgraded, later = False, None
            kept: list[Embed] = []
            for embed in post.embeds:
                result = results.get(embed.url)
                if embed.state is not EmbedState.PENDING:
                    kept.append(embed)
                elif result is None:  # added by an edit while this round fetched
                    kept.append(embed)
                    later = now
                elif isinstance(result, Embed):
                    kept.append(result)
                    upgraded = True
                else:
                    attempts = embed.attempts + 1
                    if result.retry and attempts < self.settings.embed_attempts:
                        kept.append(replace(embed, attempts=attempts))
                        again = now + self._wait(attempts)
                        later = again if later is None else min(later, again)
                    else:
                        kept.append(replace(embed, state=EmbedState.FAILED, attempts=attempts))
                        upgraded = True
            post.embeds, post.embeds_due = kept, later
            if post.status is PostStatus.DELETED or not upgraded:
                return PostChange()
            post.body_html = self.embed_html(post.body, kept)
            return PostChange(emit=EventType.POST_UPDATED if post.visible else None)

        post, event = await self.store.change_post(
            blog, post_id, change, user_id=None, shape=shapes.event_payload
        )
        self._announce(event)
        return event is not None
