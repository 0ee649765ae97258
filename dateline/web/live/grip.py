"""The live stream through a GRIP proxy (Pushpin on one's own machines, Fastly Fanout at a CDN's
edge): the proxy holds the readers' connections, and this node publishes each event once.

With `push = grip`, a `GET /{slug}/live` that comes through the proxy (its `Grip-Sig` header,
checked with `grip_key` when one is set) is answered at once and not held here:

    Content-Type: text/event-stream
    Grip-Hold: stream
    Grip-Channel: blog-7; prev-id=42          the blog's channel; 42 = the last seq in the body
    Grip-Link: </slug/live?after=42&continued=1>; rel=next; timeout=60
    Grip-Keep-Alive: : heartbeat\\n\\n; format=cstring; timeout=15

    retry: 3000                               (only on the reader's first request)
    : connected
    id: 41 … id: 42                           the backlog after the reader's resume point

The proxy then sends each frame published on the channel. Reliability is GRIP's: every published
item carries `id` = its seq and `prev-id` = the seq before, so the proxy notices a lost or
late item (or, after `timeout` seconds of silence, suspects one) and asks the next link, which
answers with what the reader has not had yet (after the `last-id` of the proxy's `Grip-Last`
header) and a new hold: a reader misses nothing, gets nothing twice, and every event is read from
the event log, as in a direct stream. A backlog longer than a page continues through a next link
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
_LAST_ID = re.compile(r"""^\s*([^;\s]+)\s*;\s*last-id=([0-9]{1,10})\s*$""")
_MAX_SEQ = 2**31 - 1


MIN_KEY = 32  # characters of grip_key: HS256 wants a key as long as its hash


def check_settings(settings: Settings) -> None:
    """Refuse (Invalid, at start) a push mode that cannot work."""
    if settings.push not in ("direct", "grip"):
        raise Invalid(f"push={settings.push!r}: choose direct or grip", field="push")
    if settings.push != "grip":
        return
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


async def hold(
    request: Request, hub: Hub, settings: Settings, *, blog_id: int, slug: str, after: int,
    ended: bool,
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
    headers["Grip-Link"] = f"{link}; timeout={max(1, round(settings.grip_recover_seconds))}"
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


class GripPublisher:
    """Publishes each event this node commits to the GRIP proxies, once, in the background:
    `committed` never waits and never raises (the change is already in the store)."""

    def __init__(
        self, hub: Hub, urls: list[str], *, retry_seconds: float = 30.0, timeout: float = 5.0,
        token: str = "",
    ) -> None:  # fmt: skip
        self.hub, self.urls, self.retry_seconds = hub, urls, retry_seconds
        self._queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(timeout=timeout, headers=headers)
        self._task: asyncio.Task[None] | None = None
        self.published = 0  # items the proxies accepted
        self.given_up = 0  # items no proxy took within retry_seconds
        self._down: set[str] = set()  # proxies given up on, until one answers again

    def committed(self, blog_id: int, seq: int) -> None:
        self._queue.put_nowait((blog_id, seq))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()

    async def _run(self) -> None:
        while True:
            waiting = [await self._queue.get()]
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

    async def _frames(self, blog_id: int, seqs: set[int]) -> list[Frame]:
        frames = await self.hub.backlog(blog_id, min(seqs) - 1, limit=max(seqs) - min(seqs) + 1)
        return [f for f in frames if f.seq in seqs]

    async def _publish(self, batch: list[dict[str, Any]]) -> None:
        if not batch:
            return
        for url in self.urls:
            # A proxy already given up on gets one try per batch until it answers again: an
            # outage must not queue every later event behind its own retry_seconds.
            down = url in self._down
            deadline = time.monotonic() + (0.0 if down else self.retry_seconds)
            pause = 0.1
            while True:
                try:
                    answer = await self._client.post(url, json={"items": batch})
                    if answer.status_code < 300:
                        self.published += len(batch)
                        self._down.discard(url)
                        break
                    problem = f"{answer.status_code} {answer.text[:200]}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
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
