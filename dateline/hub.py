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
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from dateline.errors import Unavailable
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


class Inbox:
    """A reader's bounded queue, for its one consumer (the reader's task): what asyncio.Queue
    does here, in a tenth of its memory (asyncio.Queue takes 3.3 KB with its three deques and its
    event; a reader that is caught up never needs more than this object, as the hub writes to it
    directly)."""

    __slots__ = ("_items", "_size", "_waiter")

    def __init__(self, size: int) -> None:
        self._items: deque[Item] | None = None  # made on the first item
        self._size = size
        self._waiter: asyncio.Future[None] | None = None

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Item) -> None:
        items = self._items
        if items is None:
            items = self._items = deque()
        elif 0 < self._size <= len(items):  # 0: unbounded, as asyncio.Queue
            raise asyncio.QueueFull
        items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> Item:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.popleft()

    async def get(self) -> Item:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


@dataclass(eq=False)
class Subscription:
    blog_id: int
    queue: Inbox
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
    # The frames fanned out most recently, in seq order and without gaps, ending at `cursor`:
    # a reader who resumes from one of them gets its backlog from here, not from the store.
    recent: deque[Frame] = field(default_factory=lambda: deque(maxlen=RECENT_FRAMES))


# Frames kept per blog for readers who resume from a recent seq (a page a few posts old, a
# reconnect after a dropped connection or a node's restart).
RECENT_FRAMES = 256


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
        # Backlog reads under way, by (blog, after, limit): readers who ask for the same at the
        # same moment (thousands, when a story breaks or a node restarts) share one query.
        self._reads: dict[tuple[int, int, int], asyncio.Future[list[Frame]]] = {}
        self._poll_seconds = poll_seconds
        self._safety_ticks = max(1, round(safety_poll_seconds / poll_seconds))

    async def last_seq(self, blog_id: int) -> int:
        """Where the blog is now, from the event log."""
        return await self._store.last_seq(blog_id)

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
        sub = Subscription(blog_id, Inbox(self._queue_size))
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
                    frame = await self._encode(event)
                    self._offer(state, frame)
                    state.recent.append(frame)
                    state.cursor = event.seq

    async def backlog(self, blog_id: int, after: int, *, limit: int = 500) -> list[Frame]:
        """The frames after seq `after` (at most `limit`; fewer means there is no more yet).

        From this node's memory when it holds every one of them; else from the event log,
        one query for all the readers who ask for the same at the same moment. A reader
        subscribes first and then asks: what is fanned out meanwhile reaches its queue, and the
        seqs tell the copies apart."""
        state = self._blogs.get(blog_id)
        if state is not None and state.recent and state.recent[0].seq <= after + 1:
            return [f for f in state.recent if f.seq > after][:limit]
        key = (blog_id, after, limit)
        pending = self._reads.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._read(blog_id, after, limit))
            self._reads[key] = pending
            pending.add_done_callback(lambda done: self._read_done(key, done))
        # One reader going away must not cancel the read the others wait for.
        return await asyncio.shield(pending)

    def _read_done(self, key: tuple[int, int, int], done: asyncio.Future[list[Frame]]) -> None:
        self._reads.pop(key, None)
        if not done.cancelled():
            done.exception()  # seen here, even if every reader that wanted it has gone

    async def _read(self, blog_id: int, after: int, limit: int) -> list[Frame]:
        events = await self._store.events_after(blog_id, after, limit=limit)
        return [await self._encode(event) for event in events]

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
                except Unavailable:
                    pass  # the store is away (and says so in its log); try next tick
                except Exception:
                    log.exception("polling the event log failed")
            was_healthy = healthy

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            for state in list(self._blogs.values()):
                self._offer(state, HEARTBEAT)
