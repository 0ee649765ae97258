"""The Redis bus: every node publishes "blog:seq" on one pub/sub channel after a commit and
hears every other node's.

Redis carries notifications only, and never sits in a write's path: `publish` hands the
notification to this node's own readers (through the same in-order delivery task as the memory
bus) and to a sender task, and returns. The sender keeps only the newest seq per blog, so a slow,
frozen or absent Redis costs a bounded amount of memory and no writer any time. While Redis is
unreachable `healthy` is False and each node's hub polls the event log about once a second
instead; the degradation is logged once, and pub/sub resumes when Redis returns."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from dateline.bus.delivery import Deliveries
from dateline.bus.protocol import Listener

log = logging.getLogger(__name__)
CHANNEL = "dateline:events"
_RETRY_SECONDS = 1.0


class RedisBus:
    def __init__(self, url: str) -> None:
        self._url = url
        # One retry on a fresh connection: after Redis restarts, the first command on a pooled
        # connection fails with "Connection closed by server" although Redis is back.
        self._client = aioredis.from_url(
            url,
            socket_connect_timeout=2,
            socket_timeout=2,
            health_check_interval=5,
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        self._deliveries = Deliveries()
        self._tasks: list[asyncio.Task[None]] = []
        self.healthy = False
        self._degraded_logged = False
        # The newest seq per blog not yet sent to Redis, and what wakes the sender.
        self._outbox: dict[int, int] = {}
        self._wake = asyncio.Event()

    async def start(self, listener: Listener) -> None:
        self._deliveries.start(listener)
        self._tasks = [
            asyncio.create_task(self._subscribe_forever(), name="dateline-redis-subscriber"),
            asyncio.create_task(self._send_forever(), name="dateline-redis-sender"),
        ]

    def publish(self, blog_id: int, seq: int) -> None:
        # This node's own readers hear it at once, whatever Redis is doing; the echo that comes
        # back through Redis is dropped by the hub (it has already fanned that seq out).
        self._deliveries.put(blog_id, seq)
        if seq > self._outbox.get(blog_id, 0):
            self._outbox[blog_id] = seq
        self._wake.set()

    async def _send_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                blog_id, seq = next(iter(self._outbox.items()))
                try:
                    await self._client.publish(CHANNEL, f"{blog_id}:{seq}")
                except (RedisError, OSError) as exc:
                    self._degraded(exc)
                    await asyncio.sleep(_RETRY_SECONDS)  # keep it, and try again
                    continue
                if self._outbox.get(blog_id) == seq:
                    del self._outbox[blog_id]

    async def _subscribe_forever(self) -> None:
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                if self._degraded_logged:
                    log.warning("redis bus %s is back; live events flow through pub/sub again",
                                self._url)  # fmt: skip
                self.healthy, self._degraded_logged = True, False
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    blog_id, _, seq = message["data"].decode().partition(":")
                    try:
                        self._deliveries.put(int(blog_id), int(seq))
                    except ValueError:
                        log.warning("ignoring a malformed notification %r", message["data"])
            except (RedisError, OSError) as exc:
                self._degraded(exc)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(_RETRY_SECONDS)

    def _degraded(self, exc: BaseException) -> None:
        self.healthy = False
        if not self._degraded_logged:
            self._degraded_logged = True
            log.warning(
                "redis bus %s is unreachable (%s); polling the event log until it returns",
                self._url,
                exc,
            )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._deliveries.close()
        await self._client.aclose()
