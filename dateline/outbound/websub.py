"""WebSub (https://www.w3.org/TR/websub/): the blogs' Atom feeds name a hub (`websub_hub`), and
after a change Dateline tells the hub the feed has news, so that subscribers get it pushed
instead of polling:

    POST <hub>   hub.mode=publish&hub.url=<public_url>/<slug>/feed.atom

Only the node that committed an event pings, in its own background round, never in the
writer's path; changes to one blog within a second make one ping. A hub that fails is asked
again a few times with back-off; a ping still lost only delays subscribers until the hub's own
next fetch. Draft blogs, which have no public feed, are never pinged."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import httpx

from dateline.config import Settings
from dateline.errors import Invalid, NotFound, Unavailable
from dateline.newsroom import permissions, urls
from dateline.newsroom.scheduling import Repeating
from dateline.store import Store

log = logging.getLogger(__name__)

TRIES = 5  # pings of one change before it is left to the hub's own polling
FIRST_WAIT = 2.0  # seconds before the first retry; it doubles
USER_AGENT = "Dateline-websub (+https://github.com/dateline)"


def check_settings(settings: Settings) -> None:
    """A hub needs an absolute feed URL to be told about: refuse to start without one."""
    if settings.websub_hub and not settings.public_url.startswith(("https://", "http://")):
        raise Invalid(
            "websub_hub is set but public_url is not: set DATELINE_PUBLIC_URL to the address "
            "readers reach this instance at (https://live.example.com), which the hub is told",
            field="public_url",
        )


def feed_url(settings: Settings, slug: str) -> str:
    return settings.public_url.rstrip("/") + urls.feed_path(slug)


@dataclass
class _Retry:
    tries: int
    at: float  # time.monotonic()


class WebSubPinger:
    """Pings the hub for each blog this node committed an event of, once a second at most."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.hub = settings.websub_hub
        self._changed: set[int] = set()
        self._retries: dict[int, _Retry] = {}
        self._client: httpx.AsyncClient | None = None

    def committed(self, blog_id: int, seq: int) -> None:
        if self.hub:
            self._changed.add(blog_id)

    def repeating(self) -> Repeating:
        # No wake-up on commit: waiting for the next second is what coalesces a burst.
        return Repeating("websub", self.ping_changed, 1.0)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def ping_changed(self) -> None:
        now = time.monotonic()
        due = set(self._changed) | {b for b, r in self._retries.items() if r.at <= now}
        self._changed.clear()
        for blog_id in sorted(due):
            retry = self._retries.pop(blog_id, None)
            if await self._ping(blog_id):
                continue
            tries = (retry.tries if retry else 0) + 1
            if tries < TRIES and blog_id not in self._changed:
                self._retries[blog_id] = _Retry(tries, now + FIRST_WAIT * 2 ** (tries - 1))

    async def _ping(self, blog_id: int) -> bool:
        """Whether the hub took the ping (or there is nothing to ping about)."""
        try:
            blog = await self.store.get_blog_by_id(blog_id)
        except NotFound:
            return True
        except Unavailable:
            return False  # the store is away; the retry reads the blog again
        if not permissions.public_blog(blog):
            return True
        topic = feed_url(self.settings, blog.slug)
        try:
            response = await self._http().post(
                self.hub, data={"hub.mode": "publish", "hub.url": topic}
            )
        except httpx.HTTPError as exc:
            log.warning("WebSub hub %s unreachable for %s: %s", self.hub, topic, exc)
            return False
        if not response.is_success:
            log.warning("WebSub hub %s answered %s for %s", self.hub, response.status_code, topic)
            return False
        return True

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # The hub is the operator's choice (a setting), not an editor's: no address check.
            self._client = httpx.AsyncClient(
                trust_env=False, timeout=10.0, headers={"User-Agent": USER_AGENT}
            )
        return self._client
