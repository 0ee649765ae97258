"""The Redis bus: every node publishes "blog:seq" on one pub/sub channel after a commit and
hears every other node's.

Redis carries notifications only. While it is unreachable, writes still succeed (publishing is
best effort, after the commit), `healthy` is False and each node's hub polls the event log about
once a second instead; the degradation is logged once, and pub/sub resumes when Redis returns."""

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

from dateline.bus import Listener

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
        self._listener: Listener | None = None
        self._task: asyncio.Task[None] | None = None
        self.healthy = False
        self._degraded_logged = False

    async def start(self, listener: Listener) -> None:
        self._listener = listener
        self._task = asyncio.create_task(self._subscribe_forever(), name="dateline-redis-bus")

    async def publish(self, blog_id: int, seq: int) -> None:
        # This node's own readers hear it at once, whatever Redis is doing; the echo that comes
        # back through Redis is dropped by the hub (it has already fanned that seq out).
        if self._listener is not None:
            await self._listener(blog_id, seq)
        try:
            await self._client.publish(CHANNEL, f"{blog_id}:{seq}")
        except (RedisError, OSError) as exc:
            self._degraded(exc)

    async def _subscribe_forever(self) -> None:
        assert self._listener is not None
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
                        await self._listener(int(blog_id), int(seq))
                    except Exception:
                        log.exception("delivering blog %s seq %s failed", blog_id, seq)
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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()
