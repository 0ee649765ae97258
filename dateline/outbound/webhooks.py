"""Delivering each blog's events to its webhooks: signed, one event per request, in seq order
per URL, at least once, with retries.

Every node runs a round (about once a second, and at once when it commits an event) that finds
the webhooks with events after their cursor, takes each one's lease (store/webhooks.py: two
nodes never send to one URL at once) and POSTs the events after the cursor one at a time,
moving the cursor after each 2xx answer. A failed attempt (no 2xx within
`webhook_timeout_seconds`, a refused connection, a redirect) stops that URL's deliveries: the
same event is tried again after `webhook_retry_seconds`, doubling up to an hour, until the URL
has been failing for `webhook_give_up_seconds`; then the webhook is paused, its editors see why
in the console, and resuming it goes on from the same event. As the cursor is moved only after
the answer, an event whose 2xx was lost (a node died, a timeout after the receiver acted) is
sent again: receivers deduplicate by `Dateline-Event-Id`.

The request (docs/api.md, "Webhooks"):

    POST <url>
    Content-Type: application/json
    Dateline-Event-Id: xi-putin-moscow/42         (blog slug / seq: the same on every retry)
    Dateline-Event-Seq: 42
    Dateline-Event-Type: post.published
    Dateline-Signature: t=1679356800,v1=<hex HMAC-SHA256 of "1679356800." + body, keyed by
                        the webhook's secret>

    {"id": "xi-putin-moscow/42", "blog": "xi-putin-moscow", "event": {…as /events?after=…}}
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import orjson

from dateline.config import Settings
from dateline.embeds.fetch import FetchFailed, pinned
from dateline.model import Delivery, Event, Webhook
from dateline.newsroom import webhooks as rules
from dateline.newsroom.scheduling import Repeating
from dateline.newsroom.shapes import event_json
from dateline.store import Store

log = logging.getLogger(__name__)

SIGNATURE = "Dateline-Signature"
EVENT_ID = "Dateline-Event-Id"
EVENT_SEQ = "Dateline-Event-Seq"
EVENT_TYPE = "Dateline-Event-Type"
USER_AGENT = "Dateline-webhooks (+https://github.com/dateline)"

LOG_SIZE = 100  # attempts kept per webhook
MAX_WAIT = timedelta(hours=1)  # the longest wait between two attempts
BATCH = 100  # events read from the log at a time
# A webhook's turn in a round: a receiver slower than its blog's events would otherwise keep the
# round (and every other webhook's next events) waiting until it caught up.
TURN_SECONDS = 2.0
PARALLEL = 16  # webhooks served at once by one node


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `Dateline-Signature` header for `body` sent at `timestamp` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: float, tolerance: float = 300) -> bool:
    """What a receiver does (docs/api.md has the same in a few lines): the signature must be
    the body's, and its time within `tolerance` seconds of `now`, so a captured request
    cannot be replayed later."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(
        expected.encode(), parts.get("v1", "").encode("utf-8", "replace")
    )


def body_of(slug: str, event: Event) -> bytes:
    return orjson.dumps({"id": f"{slug}/{event.seq}", "blog": slug, "event": event_json(event)})


class Deliverer:
    """This node's webhook deliveries; `committed` is told of each event this node commits."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.guard = rules.guard(settings)
        self.timeout = settings.webhook_timeout_seconds
        self.retry = timedelta(seconds=settings.webhook_retry_seconds)
        self.give_up = timedelta(seconds=settings.webhook_give_up_seconds)
        # A node that dies mid-delivery holds its webhooks this long at most.
        self.lease = timedelta(seconds=2 * self.timeout + 10)
        self.token = secrets.token_hex(16)  # whose lease it is
        self.wake = asyncio.Event()
        self._slots = asyncio.Semaphore(PARALLEL)
        # One client per host name: connections go to checked addresses (not names), and a
        # pool shared by two names on one address would send B's requests over the TLS session
        # opened (and certificate checked) for A.
        self._clients: dict[str, httpx.AsyncClient] = {}

    def committed(self, blog_id: int, seq: int) -> None:
        self.wake.set()

    def repeating(self) -> Repeating:
        return Repeating(
            "webhooks", self.deliver_due, min(1.0, self.settings.webhook_retry_seconds), self.wake
        )

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def deliver_due(self) -> None:
        """One round: every due webhook, several at once, each in its own order."""
        due = await self.store.due_webhooks(self.clock())
        if due:
            await asyncio.gather(*(self._serve(webhook_id) for webhook_id in due))

    async def _serve(self, webhook_id: int) -> None:
        async with self._slots:
            webhook = await self.store.claim_webhook(
                webhook_id, self.token, now=self.clock(), lease=self.lease
            )
            if webhook is None:
                return  # another node has it, or it is no longer due
            try:
                await self._send_pending(webhook)
            finally:
                # Shielded: a node stopping mid-delivery still hands the webhook on at once.
                await asyncio.shield(self.store.release_webhook(webhook_id, self.token))

    async def _send_pending(self, webhook: Webhook) -> None:
        assert webhook.id is not None
        blog = await self.store.get_blog_by_id(webhook.blog_id)
        turn_ends = time.monotonic() + TURN_SECONDS
        while True:
            events = await self.store.events_after(webhook.blog_id, webhook.cursor, limit=BATCH)
            if not events:
                return
            for event in events:
                attempt = await self._post(webhook, blog.slug, event)
                if not attempt.ok:
                    await self._failed(webhook, attempt)
                    return
                go_on = await self.store.delivered(
                    webhook.id, self.token, attempt, lease=self.lease, keep=LOG_SIZE
                )
                if not go_on:
                    return  # paused or deleted meanwhile, or the lease was lost
                webhook.cursor, webhook.attempts, webhook.failing_since = event.seq, 0, None
                if time.monotonic() > turn_ends:
                    self.wake.set()  # the rest in the next round, which starts at once
                    return

    async def _failed(self, webhook: Webhook, attempt: Delivery) -> None:
        assert webhook.id is not None
        now = attempt.at
        since = webhook.failing_since or now
        tries = webhook.attempts + 1
        wait = min(self.retry * 2 ** min(tries - 1, 20), MAX_WAIT)
        pause = None
        if now - since >= self.give_up:
            pause = (
                f"paused after failing for {_span(now - since)} ({tries} attempts; the last: "
                f"{attempt.error}); fix the receiver, then resume: it gets everything from "
                f"seq {attempt.seq} on"
            )
        # The last retry falls at the end of the window, not an hour after it.
        retry_at = min(now + wait, max(since + self.give_up, now))
        await self.store.failed(
            webhook.id, self.token, attempt, retry_at=retry_at, pause=pause, keep=LOG_SIZE
        )
        if pause is not None:
            log.warning("webhook #%s (%s) %s", webhook.id, webhook.url, pause)

    async def _post(self, webhook: Webhook, slug: str, event: Event) -> Delivery:
        """One attempt; never raises for what the receiver or the network did."""
        body = body_of(slug, event)
        at = self.clock()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_ID: f"{slug}/{event.seq}",
            EVENT_SEQ: str(event.seq),
            EVENT_TYPE: event.type.value,
            SIGNATURE: signature(webhook.secret, int(at.timestamp()), body),
        }
        status: int | None = None
        error: str | None = None
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                # The address is checked at every delivery: a DNS answer may have changed
                # since the URL was registered.
                target, more, extensions = await pinned(webhook.url, self.guard)
                client = self._http(urlsplit(webhook.url).hostname or "")
                request = client.build_request(
                    "POST", target, content=body, headers={**headers, **more},
                    extensions=extensions,
                )  # fmt: skip
                # The answer's body is never read: a receiver cannot make this node hold it.
                response = await client.send(request, stream=True)
                await response.aclose()
                status = response.status_code
                if response.is_redirect:
                    error = f"answered {status}: redirects are not followed; register the URL "
                    error += "it redirects to"
                elif not response.is_success:
                    error = f"answered {status}"
        except TimeoutError:
            error = f"no answer within {self.timeout:g} s"
        except FetchFailed as exc:
            error = str(exc)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
        took = round((time.monotonic() - started) * 1000)
        return Delivery(event.seq, at, status, error is None, took, error)

    def _http(self, host: str) -> httpx.AsyncClient:
        client = self._clients.get(host)
        if client is None:
            # No proxies from the environment: the address check must be the connection's.
            client = httpx.AsyncClient(
                follow_redirects=False, trust_env=False, timeout=httpx.Timeout(self.timeout)
            )
            self._clients[host] = client
        return client


def _span(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    if seconds >= 60:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} seconds"
