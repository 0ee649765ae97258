"""Per-node fan-out: each event is read from the store once and encoded once, and the same bytes
go to every local reader of the blog.

Each reader has a bounded queue. A reader that cannot keep up is cut off (its queue is emptied
and closed) rather than slowing anyone else; its browser reconnects with Last-Event-ID and catches
up from the store. Heartbeats come from one timer for all readers."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from dateline.model import Event, EventType

log = logging.getLogger(__name__)


class EventLog(Protocol):
    """What the hub reads; it never writes."""

    async def events_after(
        self, blog_id: int, after: int, *, until: int | None = None, limit: int = 1000
    ) -> list[Event]: ...

    async def last_seq(self, blog_id: int) -> int: ...


@dataclass(frozen=True, slots=True)
class Frame:
    """One event as this node sends it, made once per event by the encoder: the SSE frame, and
    the same bytes as one chunk of a chunked HTTP/1.1 body (for writers that send raw chunks)."""

    seq: int
    type: EventType
    data: bytes
    chunk: bytes

    @classmethod
    def of(cls, seq: int, type_: EventType, data: bytes) -> Frame:
        return cls(seq, type_, data, b"%x\r\n%b\r\n" % (len(data), data))

    @property
    def ends_coverage(self) -> bool:
        return self.type is EventType.BLOG_ENDED


class Signal(enum.Enum):
    HEARTBEAT = "heartbeat"  # a comment to keep the connection (and its proxies) awake
    CLOSED = "closed"  # the reader was cut off: it reconnects and catches up from the store


HEARTBEAT = Signal.HEARTBEAT
CLOSED = Signal.CLOSED
Item = Frame | Signal


@dataclass(eq=False)
class Subscription:
    blog_id: int
    queue: asyncio.Queue[Item]
    dropped: bool = False
    # Set by the reader while it is caught up and idle: writes an item to its connection at
    # once, so that no task wakes per reader per event. False sends the item through the queue.
    deliver: Callable[[Item], bool] | None = None

    async def get(self) -> Item:
        return await self.queue.get()


@dataclass
class _BlogState:
    readers: set[Subscription] = field(default_factory=set)
    cursor: int | None = None  # the newest seq this node has fanned out
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Hub:
    def __init__(
        self,
        store: EventLog,
        encode: Callable[[Event], Awaitable[Frame]],
        *,
        queue_size: int = 64,
        heartbeat_seconds: float = 15.0,
        bus_healthy: Callable[[], bool] = lambda: True,
        poll_seconds: float = 1.0,
        safety_poll_seconds: float = 5.0,
    ) -> None:
        self._store = store
        self._encode = encode
        self._queue_size = queue_size
        self._heartbeat_seconds = heartbeat_seconds
        self._blogs: dict[int, _BlogState] = {}
        # The newest seq heard of per blog, readers or not: lets the read path trust a
        # recently fetched blog header without asking the store again.
        self.heard: dict[int, int] = {}
        self._timer: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._bus_healthy = bus_healthy
        self._poll_seconds = poll_seconds
        self._safety_ticks = max(1, round(safety_poll_seconds / poll_seconds))

    @property
    def reader_count(self) -> int:
        return sum(len(state.readers) for state in self._blogs.values())

    async def start(self) -> None:
        self._timer = asyncio.create_task(self._heartbeats(), name="dateline-hub-heartbeat")
        self._poller = asyncio.create_task(self._fallback_poll(), name="dateline-hub-poll")

    async def close(self) -> None:
        for task in (self._timer, self._poller):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.disconnect_all()

    def disconnect_all(self) -> None:
        """End every live stream on this node (shutdown, or a deploy draining it); browsers
        reconnect with Last-Event-ID, to this node or another, and miss nothing."""
        for state in self._blogs.values():
            for sub in list(state.readers):
                self._cut_off(sub)
        self._blogs.clear()

    def subscribe(self, blog_id: int) -> Subscription:
        sub = Subscription(blog_id, asyncio.Queue(self._queue_size))
        self._blogs.setdefault(blog_id, _BlogState()).readers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        state = self._blogs.get(sub.blog_id)
        if state is None:
            return
        state.readers.discard(sub)
        if not state.readers and not state.lock.locked():
            del self._blogs[sub.blog_id]

    def hear(self, blog_id: int, seq: int) -> None:
        """Note that `blog_id` has reached `seq` (called at once by this node's own writes)."""
        if seq > self.heard.get(blog_id, 0):
            self.heard[blog_id] = seq

    async def notify(self, blog_id: int, seq: int) -> None:
        """The bus says `blog_id` is at `seq`: fetch what this node lacks, encode, fan out."""
        self.hear(blog_id, seq)
        state = self._blogs.get(blog_id)
        if state is None or not state.readers:
            return  # nobody here reads this blog; readers who come later start from the store
        async with state.lock:
            if state.cursor is None:
                # The first event seen since readers arrived: each reader fetched its own
                # backlog from the store, and fills any hole before this one itself.
                state.cursor = seq - 1
            if seq <= state.cursor:
                return
            while state.cursor < seq:
                events = await self._store.events_after(blog_id, state.cursor, until=seq)
                if not events:
                    break
                for event in events:
                    self._offer(state, await self._encode(event))
                    state.cursor = event.seq

    def drop(self, sub: Subscription) -> None:
        """End one reader's stream now (its client went away)."""
        self._cut_off(sub)
        self.unsubscribe(sub)

    def _offer(self, state: _BlogState, item: Item) -> None:
        for sub in list(state.readers):
            deliver = sub.deliver
            if deliver is not None:
                try:
                    if deliver(item):
                        continue
                except Exception:  # its connection broke: it reconnects and catches up
                    log.debug("a direct write failed", exc_info=True)
                    self._cut_off(sub)
                    state.readers.discard(sub)
                    continue
            try:
                sub.queue.put_nowait(item)
            except asyncio.QueueFull:
                self._cut_off(sub)
                state.readers.discard(sub)

    def _cut_off(self, sub: Subscription) -> None:
        sub.dropped = True
        sub.deliver = None
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(CLOSED)

    async def poll_once(self) -> None:
        """Ask the store where each watched blog is, and fan out what this node lacks."""
        for blog_id, state in list(self._blogs.items()):
            if not state.readers:
                continue
            seq = await self._store.last_seq(blog_id)
            if state.cursor is None or seq > state.cursor:
                await self.notify(blog_id, seq)

    async def _fallback_poll(self) -> None:
        """While the bus may drop notifications, poll every tick; once more after it recovers,
        to cover anything published between the last poll and the bus subscribing again. Even
        a healthy bus can lose a notification (a publisher's connection failing as Redis
        restarts), so poll every few seconds regardless: a lost notification is then a delay
        of seconds, never a missing post."""
        was_healthy = True
        tick = 0
        while True:
            await asyncio.sleep(self._poll_seconds)
            tick += 1
            healthy = self._bus_healthy()
            if not (healthy and was_healthy) or tick % self._safety_ticks == 0:
                try:
                    await self.poll_once()
                except Exception:  # the store may be briefly unreachable too; try next tick
                    log.exception("polling the event log failed")
            was_healthy = healthy

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            for state in list(self._blogs.values()):
                self._offer(state, HEARTBEAT)
