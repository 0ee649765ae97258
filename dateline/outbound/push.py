"""Web push: notifying a story's followers, in the background, on every node.

Each round (every second, `web_push_round`) does two things:

1. For each followed blog whose event log moved on, the store turns the events since into at most
   one message (store/push.py): the newest post published with `notify` set, once
   `push_min_minutes` have passed since the blog's last notification, or the last notice when
   coverage ended. The message's JSON is made here:

       {"title": "<the blog's title>", "headline": "<the post's headline>",
        "url": "/<blog>/posts/<id>", "icon": "/favicon.ico", "tag": "dateline-<blog>",
        "ended": false}

2. It claims due deliveries and sends each to its push service (RFC 8030): the JSON encrypted for
   the follower's keys (RFC 8291, `aes128gcm`), signed with VAPID (outbound/vapid.py). 2xx: done.
   404/410: the subscription has expired or was withdrawn, so the follower is removed. 429, 5xx or
   no answer: tried again after `push_retry_seconds`, doubling (or the service's Retry-After), up
   to `push_attempts` tries. Any other answer (400, 401, 403, 413) will not get better by waiting:
   logged and given up.

Nothing here runs in a writer's path: the newsroom only marks posts, and the event log says the
rest."""

from __future__ import annotations

import asyncio
import email.utils
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import http_ece
import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from dateline import render
from dateline.config import Settings
from dateline.model import Blog, EventType, Post
from dateline.newsroom import permissions, urls
from dateline.newsroom.followers import Followers
from dateline.newsroom.scheduling import Repeating
from dateline.outbound.vapid import Vapid, unb64url, vapid_for
from dateline.store import Delivery, PushEvent, PushPlace, PushStep, Store

log = logging.getLogger(__name__)

# How long a push service keeps a notification for a device that is offline: news a day old is
# not worth a buzz.
TTL_SECONDS = 12 * 3600
# A claimed delivery is this node's for this long; if the node dies mid-send, another sends it.
LEASE = timedelta(minutes=2)
BATCH = 50
SEND_TIMEOUT = 10.0
LONGEST_WAIT = 3600.0
HEADLINE_CHARS = 200
ENDED = "This live coverage has ended. Thanks for following."


def _headline(post: Post) -> str:
    text = post.headline.strip() or render.plain_text(post.body).strip() or "New post"
    text = " ".join(text.split())
    return text if len(text) <= HEADLINE_CHARS else text[: HEADLINE_CHARS - 1].rstrip() + "…"


# The events that mean something to followers.
WATCHED = (EventType.POST_PUBLISHED, EventType.BLOG_ENDED)


def deciding(now: datetime, gap: timedelta) -> Callable[[PushPlace, list[PushEvent]], PushStep]:
    """The rules, for the store to apply inside its transaction: the end of coverage is the last
    notice; otherwise the newest published post marked `notify` replaces any older one still
    waiting, and goes out once `gap` has passed since the blog's last notification."""

    def step(place: PushPlace, events: list[PushEvent]) -> PushStep:
        pending = place.pending_post
        for event in events:
            if event.type is EventType.BLOG_ENDED:
                return PushStep(final=True)
            if event.notify:
                pending = event.post_id
        if pending is not None and (place.sent_at is None or place.sent_at <= now - gap):
            return PushStep(send_post=pending)
        return PushStep(pending_post=pending)

    return step


def message(blog: Blog, post: Post | None) -> dict[str, Any] | None:
    """The notification's JSON for `post`, or (None) for the end of the blog's coverage; None
    for a post readers no longer see (retracted while it waited). URLs are paths: the service
    worker opens them on its own origin."""
    if post is not None and not permissions.on_readers_pages(post):
        return None
    return {
        "title": blog.title,
        "headline": _headline(post) if post is not None else ENDED,
        "url": urls.post_path(blog.slug, post.id)
        if post is not None
        else urls.blog_path(blog.slug),
        "icon": "/favicon.ico",
        # A new notification of the blog replaces its last one on the reader's screen.
        "tag": f"dateline-{blog.slug}",
        "ended": post is None,
    }


def encrypt(payload: bytes, p256dh: str, auth: str) -> bytes:
    """The payload as a push service carries it: aes128gcm for the subscription's keys, from a
    key pair made for this message alone (RFC 8291)."""
    body: bytes = http_ece.encrypt(
        payload,
        private_key=ec.generate_private_key(ec.SECP256R1()),
        dh=unb64url(p256dh),
        auth_secret=unb64url(auth),
        version="aes128gcm",
    )
    return body


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (seconds, or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class WebPush:
    """The sender, and the readers' side (`followers`), on one store."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        vapid: Vapid,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.settings = settings
        self.vapid = vapid
        self.clock = clock
        self.followers = Followers(store, settings, clock)
        # No redirects: a push service answers, it does not send us elsewhere.
        self.client = httpx.AsyncClient(
            timeout=SEND_TIMEOUT, follow_redirects=False, limits=httpx.Limits(max_connections=20)
        )

    async def round(self) -> int:
        """Turn new events into messages, then send what is due; the deliveries attempted."""
        now = self.clock()
        gap = timedelta(minutes=self.settings.push_min_minutes)
        for blog_id in await self.store.push_blogs_due(now, gap):
            await self.store.read_push_log(blog_id, now, WATCHED, deciding(now, gap), message)
        attempted = 0
        while True:
            batch = await self.store.claim_deliveries(self.clock(), LEASE, BATCH)
            await asyncio.gather(*(self._deliver(d) for d in batch))
            attempted += len(batch)
            if len(batch) < BATCH:
                return attempted

    async def _deliver(self, delivery: Delivery) -> None:
        headers = {
            "Authorization": self.vapid.authorization(delivery.endpoint),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(TTL_SECONDS),
            "Urgency": "high" if delivery.final else "normal",
            # An undelivered notification of the blog is replaced by the next (RFC 8030 §5.4).
            "Topic": f"dateline-blog-{delivery.blog_id}",
        }
        try:
            body = encrypt(delivery.payload, delivery.p256dh, delivery.auth)
            response = await self.client.post(delivery.endpoint, content=body, headers=headers)
        except httpx.HTTPError as exc:
            await self._again(delivery, None, f"no answer ({type(exc).__name__})")
            return
        status = response.status_code
        if 200 <= status < 300:
            await self.store.done(delivery)
        elif status in (404, 410):
            await self.store.gone(delivery)
        elif status == 429 or status >= 500:
            await self._again(delivery, response.headers.get("retry-after"), f"HTTP {status}")
        else:
            log.warning(
                "web push: %s answered %d (%s); notification given up",
                _origin(delivery.endpoint),
                status,
                response.text[:200],
            )
            await self.store.done(delivery)

    async def _again(self, delivery: Delivery, retry_after: str | None, why: str) -> None:
        tried = delivery.attempts + 1
        if tried >= self.settings.push_attempts:
            log.warning(
                "web push: %s failed %d times (last: %s); notification given up",
                _origin(delivery.endpoint),
                tried,
                why,
            )
            await self.store.done(delivery)
            return
        now = self.clock()
        wait = self.settings.push_retry_seconds * 2**delivery.attempts
        asked = _retry_after(retry_after, now)
        if asked is not None:
            wait = max(asked, self.settings.push_retry_seconds)
        await self.store.retry(delivery, now + timedelta(seconds=min(wait, LONGEST_WAIT)))

    async def close(self) -> None:
        await self.client.aclose()


def _origin(endpoint: str) -> str:
    # Logs name the push service, never the subscription (its path identifies a browser).
    return httpx.URL(endpoint).host


async def open_web_push(store: Store, settings: Settings) -> WebPush | None:
    """The instance's web push, or None when `web_push` is off."""
    if not settings.web_push:
        return None
    if not settings.vapid_subject:
        log.warning(
            "web push: vapid_subject is not set; Apple's push service refuses notifications "
            "without it (set it to mailto:ADDRESS or an https:// URL)"
        )
    return WebPush(store, settings, await vapid_for(store, settings))


def web_push_round(push: WebPush, interval: float = 1.0) -> Repeating:
    """Sends followers' notifications: new ones within a second, retries when due."""
    return Repeating("web-push", push.round, interval)
