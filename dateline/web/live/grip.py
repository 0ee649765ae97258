"""The live stream through a GRIP proxy (Pushpin on one's own machines, Fastly Fanout at a CDN's
edge): the proxy holds the readers' connections, and this node publishes each event once.

With `push = grip`, a `GET /{slug}/live` that comes through the proxy (its `Grip-Sig` header,
checked with `grip_key` when one is set) is answered at once and not held here:

    Content-Type: text/event-stream
    Grip-Hold: stream
    Grip-Channel: blog-7; prev-id=42          the blog's channel; 42 = the last seq in the body
    Grip-Link: </slug/live?after=42&continued=1>; rel=next; timeout=137
    Grip-Keep-Alive: : heartbeat\\n\\n; format=cstring; timeout=15

    retry: 3000                               (only on the reader's first request)
    : connected
    id: 41 … id: 42                           the backlog after the reader's resume point

The proxy then sends each frame published on the channel. Reliability is GRIP's: every published
item carries `id` = its seq and `prev-id` = the seq before, so the proxy notices a lost or
late item (or, after `timeout` seconds of silence, suspects one) and asks the next link, which
answers with what the reader has not had yet (after the `last-id` of the proxy's `Grip-Last`
header) and a new hold: a reader misses nothing, gets nothing twice, and every event is read from
the event log, as in a direct stream.

Silence must not bring every reader back at once. Pushpin times the streams that share a next
link's path and timeout together: a quiet minute would send every reader it holds (millions, at a
CDN) to the origin in the same second, and a stream whose next link fails five times is closed.
So (1) each hold gets its own timeout, drawn from `grip_recover_seconds` to 1.5 times it, which
spreads any such round over half a period; and (2) while a blog is quiet, the node publishes a
keep-alive on its channel every `grip_keepalive_seconds`: an SSE comment with `id` and `prev-id`
both the blog's last seq. It follows the chain (a proxy delivers it and restarts its streams'
timers, so quiet streams never ask), and a stream that missed the last event notices the gap at
the keep-alive instead of at its timeout. Each node keeps alive the blogs it published to or
answered holds for, while the blog's seq stays where the node saw it; the edge's id cache drops
the copies of several nodes (Pushpin's `id_cache_ttl`, 60 s by default, is why the keep-alive
is longer). A keep-alive that crosses another node's event in flight costs one recovery round,
never an event. A backlog longer than a page continues through a next link
without a hold, which the proxy asks at once. When coverage has ended, the answer ends the stream
(no hold) after the `blog.ended` frame and the `end` event.

After each commit the node that wrote publishes the event's frame (`GripPublisher`), the same
bytes a direct reader gets, to every publish URL (several proxies may share the readers).
A proxy that cannot be reached is tried again for `grip_retry_seconds`; a publish given up is
recovered by the readers' proxies through the next link."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import httpx
import jwt
from starlette.requests import Request
from starlette.responses import Response

from dateline.config import Settings
from dateline.errors import Invalid
from dateline.hub import Frame, Hub
from dateline.web.live.encoder import END_FRAME

log = logging.getLogger(__name__)

PAGE = 500  # frames in one answer; more continue through a next link
KEEPALIVE_LIMIT_SECONDS = 86_400.0  # a blog quiet for this long is no longer kept alive
_LAST_ID = re.compile(r"""^\s*([^;\s]+)\s*;\s*last-id=([0-9]{1,10})\s*$""")
_MAX_SEQ = 2**31 - 1


MIN_KEY = 32  # characters of grip_key: HS256 wants a key as long as its hash


def check_settings(settings: Settings) -> None:
    """Refuse (Invalid, at start) a push mode that cannot work."""
    if settings.push not in ("direct", "grip"):
        raise Invalid(f"push={settings.push!r}: choose direct or grip", field="push")
    if settings.push != "grip":
        return
    keepalive, recover = settings.grip_keepalive_seconds, settings.grip_recover_seconds
    if recover < 1:
        raise Invalid("grip_recover_seconds must be at least 1", field="grip_recover_seconds")
    if keepalive and not 0 < keepalive < recover:
        raise Invalid(
            "grip_keepalive_seconds must be shorter than grip_recover_seconds (or 0: no "
            "keep-alives, and every quiet stream asks the node again after its timeout)",
            field="grip_keepalive_seconds",
        )
    if not publish_urls(settings):
        raise Invalid(
            "push=grip needs grip_publish_urls, the proxies' publish endpoints "
            "(Pushpin: http://HOST:5561/publish/)",
            field="grip_publish_urls",
        )
    key = settings.grip_key
    if key and _algorithm(key) == "ES256":
        try:
            jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256).prepare_key(key)
        except (jwt.InvalidKeyError, ValueError) as exc:
            raise Invalid(f"grip_key is not an EC public key: {exc}", field="grip_key") from None
    elif key and len(key) < MIN_KEY:
        raise Invalid(
            f"grip_key must be at least {MIN_KEY} characters (set the same in Pushpin's "
            "[proxy] sig_key)",
            field="grip_key",
        )


def channel(blog_id: int) -> str:
    return f"blog-{blog_id}"


def through_proxy(request: Request, settings: Settings) -> bool:
    """Whether this request came through the GRIP proxy: grip mode, and a `Grip-Sig` header
    (a JWT the proxy signs with `grip_key`; any signature is taken when no key is set, for a
    node that only the proxy can reach)."""
    if settings.push != "grip":
        return False
    token = request.headers.get("grip-sig")
    if not token:
        return False
    if not settings.grip_key:
        return True
    try:
        jwt.decode(
            token, settings.grip_key, algorithms=[_algorithm(settings.grip_key)],
            options={"require": ["exp"]},
        )  # fmt: skip
    except jwt.InvalidTokenError:
        log.warning("a live request with a Grip-Sig that does not verify; served directly")
        return False
    return True


def _algorithm(key: str) -> str:
    """A PEM public key is an edge that signs with ES256 (Fastly Fanout); else a shared HS256
    secret (Pushpin's sig_key)."""
    return "ES256" if key.lstrip().startswith("-----BEGIN PUBLIC KEY-----") else "HS256"


def _after(raw: str | None, default: int) -> int:
    if raw is not None and raw.isdigit() and int(raw) <= _MAX_SEQ:
        return int(raw)
    return default


def proxy_resume_point(request: Request, blog_id: int, after: int) -> int:
    """Where the proxy's reader is: the `last-id` the proxy saw on the blog's channel (a
    recovery through the next link), else the reader's own resume point."""
    raw = request.headers.get("grip-last")
    if raw:
        for part in raw.split(","):
            found = _LAST_ID.match(part)
            if found and found.group(1) == channel(blog_id):
                seq = int(found.group(2))
                if seq <= _MAX_SEQ:
                    return seq
    return after


def recover_timeout(settings: Settings) -> int:
    """This hold's next-link timeout, in whole seconds: from grip_recover_seconds to 1.5 times
    it, so that the streams of one blog are not all timed together (see the docstring)."""
    low = max(1, round(settings.grip_recover_seconds))
    return random.randint(low, low + max(1, low // 2))


async def hold(
    request: Request, hub: Hub, settings: Settings, *, blog_id: int, slug: str, after: int,
    ended: bool, publisher: GripPublisher | None = None,
) -> Response:  # fmt: skip
    """The answer to a live request that came through the proxy (see the module's docstring)."""
    # The proxy's own requests (a next link: more of a long backlog, or a recovery) say so in
    # their URL; the reader's request headers (its Last-Event-ID) may come along with them.
    first = request.query_params.get("continued") != "1"
    if not first:
        after = _after(request.query_params.get("after"), after)
    after = proxy_resume_point(request, blog_id, after)
    frames = await hub.backlog(blog_id, after, limit=PAGE)
    last = frames[-1].seq if frames else after
    body = b"".join(f.data for f in frames)
    if first:
        body = b"retry: %d\n\n: connected\n\n" % settings.sse_retry_ms + body
    headers = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store"}
    link = f"</{quote(slug)}/live?after={last}&continued=1>; rel=next"
    if len(frames) == PAGE:  # more to come: the proxy asks for it at once, the reader waits
        headers["Grip-Link"] = link
        return Response(body, headers=headers)
    if ended or any(f.ends_coverage for f in frames):
        return Response(body + END_FRAME, headers=headers)  # the stream ends here
    headers["Grip-Hold"] = "stream"
    headers["Grip-Channel"] = f"{channel(blog_id)}; prev-id={last}"
    headers["Grip-Link"] = f"{link}; timeout={recover_timeout(settings)}"
    if publisher is not None:
        publisher.watch(blog_id, last)
    headers["Grip-Keep-Alive"] = (
        f": heartbeat\\n\\n; format=cstring; timeout={max(1, round(settings.heartbeat_seconds))}"
    )
    return Response(body, headers=headers)


def publish_urls(settings: Settings) -> list[str]:
    """The proxies' publish endpoints (`grip_publish_urls`, comma-separated), each ending in
    `/publish/` (Pushpin's is http://HOST:5561/publish/)."""
    urls = [u.strip() for u in settings.grip_publish_urls.split(",") if u.strip()]
    return [u if u.endswith("/publish/") else u.rstrip("/") + "/publish/" for u in urls]


def items(blog_id: int, frames: Iterable[Frame]) -> list[dict[str, Any]]:
    """The publish items of `frames`: one per event, chained by seq; after `blog.ended`, the
    `end` event and a close."""
    out: list[dict[str, Any]] = []
    name = channel(blog_id)
    for frame in frames:
        data = frame.data + END_FRAME if frame.ends_coverage else frame.data
        out.append(
            {
                "channel": name,
                "id": str(frame.seq),
                "prev-id": str(frame.seq - 1),
                "formats": {"http-stream": {"content": data.decode("utf-8")}},
            }
        )
        if frame.ends_coverage:
            out.append(
                {
                    "channel": name,
                    "id": f"{frame.seq}-end",
                    "prev-id": str(frame.seq),
                    "formats": {"http-stream": {"action": "close"}},
                }
            )
    return out


def keepalive(blog_id: int, seq: int) -> dict[str, Any]:
    """The item that keeps a quiet channel's streams alive: an SSE comment that follows the
    chain without moving it (`id` and `prev-id` both the last seq)."""
    return {
        "channel": channel(blog_id),
        "id": str(seq),
        "prev-id": str(seq),
        "formats": {"http-stream": {"content": ": live\n\n"}},
    }


class GripPublisher:
    """Publishes each event this node commits to the GRIP proxies, once, in the background:
    `committed` never waits and never raises (the change is already in the store)."""

    def __init__(
        self, hub: Hub, urls: list[str], *, retry_seconds: float = 30.0, timeout: float = 5.0,
        token: str = "", keepalive_seconds: float = 0.0,
    ) -> None:  # fmt: skip
        self.hub, self.urls, self.retry_seconds = hub, urls, retry_seconds
        self.keepalive_seconds = keepalive_seconds
        # The blogs this node keeps alive: blog → [the seq it saw last, when it last published
        # there (an event or a keep-alive), when it last saw the seq move].
        self._alive: dict[int, list[float]] = {}
        self.kept_alive = 0  # keep-alives the proxies accepted (one per proxy)
        self._queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(timeout=timeout, headers=headers)
        self._task: asyncio.Task[None] | None = None
        self.published = 0  # items the proxies accepted
        self.given_up = 0  # items no proxy took within retry_seconds
        self._down: set[str] = set()  # proxies given up on, until one answers again

    def committed(self, blog_id: int, seq: int) -> None:
        self._queue.put_nowait((blog_id, seq))

    def watch(self, blog_id: int, seq: int) -> None:
        """This node answered a hold on `blog_id` at `seq`: keep the blog's streams alive while
        it is quiet (a blog it already keeps alive stays as it is)."""
        if self.keepalive_seconds and blog_id not in self._alive:
            now = time.monotonic()
            self._alive[blog_id] = [seq, now, now]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()

    async def _run(self) -> None:
        # Keep-alives go out from this task, between batches of events: never ahead of an event
        # this node has committed.
        tick = self.keepalive_seconds / 4 if self.keepalive_seconds else None
        while True:
            try:
                waiting = [await asyncio.wait_for(self._queue.get(), tick)]
            except TimeoutError:
                await self._keep_alive()
                continue
            while not self._queue.empty():
                waiting.append(self._queue.get_nowait())
            by_blog: dict[int, set[int]] = {}
            for blog_id, seq in waiting:
                by_blog.setdefault(blog_id, set()).add(seq)
            for blog_id, seqs in by_blog.items():
                try:
                    frames = await self._frames(blog_id, seqs)
                    await self._publish(items(blog_id, frames))
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("publishing blog %s's events to the GRIP proxy failed", blog_id)
                    continue
                self._published(blog_id, frames)
            if tick is not None:
                await self._keep_alive()

    def _published(self, blog_id: int, frames: list[Frame]) -> None:
        if not self.keepalive_seconds or not frames:
            return
        if frames[-1].ends_coverage:  # the streams are closed: nothing to keep alive
            self._alive.pop(blog_id, None)
            return
        now = time.monotonic()
        self._alive[blog_id] = [frames[-1].seq, now, now]

    async def _keep_alive(self) -> None:
        """A keep-alive for each blog kept alive that has been quiet for keepalive_seconds,
        if its seq is still the one this node saw last; a blog whose seq moved is left to the
        node that moved it (until this node answers a hold there again); a blog quiet for a
        day is let go."""
        now = time.monotonic()
        for blog_id, entry in list(self._alive.items()):
            seq, sent, moved = int(entry[0]), entry[1], entry[2]
            if now - sent < self.keepalive_seconds:
                continue
            if now - moved > KEEPALIVE_LIMIT_SECONDS:
                del self._alive[blog_id]
                continue
            try:
                current = await self.hub.last_seq(blog_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # the store is away: try again next round
                log.debug("no keep-alive for blog %s: its seq is unknown", blog_id, exc_info=True)
                continue
            if current != seq:
                del self._alive[blog_id]
                continue
            entry[1] = time.monotonic()
            try:
                await self._publish([keepalive(blog_id, seq)], events=False)
            except asyncio.CancelledError:
                raise
            except Exception:  # never the end of the task that publishes the events
                log.exception("a keep-alive for blog %s failed", blog_id)

    async def _frames(self, blog_id: int, seqs: set[int]) -> list[Frame]:
        frames = await self.hub.backlog(blog_id, min(seqs) - 1, limit=max(seqs) - min(seqs) + 1)
        return [f for f in frames if f.seq in seqs]

    async def _publish(self, batch: list[dict[str, Any]], *, events: bool = True) -> None:
        """Send `batch` to every proxy; events are retried for retry_seconds, a keep-alive
        (`events=False`) is tried once (the next one is due soon, and events must not wait)."""
        if not batch:
            return
        for url in self.urls:
            # A proxy already given up on gets one try per batch until it answers again: an
            # outage must not queue every later event behind its own retry_seconds.
            down = url in self._down or not events
            deadline = time.monotonic() + (0.0 if down else self.retry_seconds)
            pause = 0.1
            while True:
                try:
                    answer = await self._client.post(url, json={"items": batch})
                    if answer.status_code < 300:
                        if events:
                            self.published += len(batch)
                            self._down.discard(url)
                        else:
                            self.kept_alive += 1
                        break
                    problem = f"{answer.status_code} {answer.text[:200]}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                if not events:
                    log.info("a keep-alive did not reach %s (%s)", url, problem)
                    break
                if time.monotonic() + pause > deadline:
                    self.given_up += len(batch)
                    if not down:
                        self._down.add(url)
                        log.warning(
                            "gave up publishing to %s (%s); until it answers, its readers' "
                            "proxies recover what they miss through the next link",
                            url, problem,
                        )  # fmt: skip
                    break
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)
