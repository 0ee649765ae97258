"""What every use case of the newsroom shares: the store, the bus, the settings, the clock, the
permission check and the announcement of committed events."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from dateline.bus import Bus
from dateline.config import Settings
from dateline.model import Blog, Event, Post, User
from dateline.newsroom import inputs, permissions
from dateline.newsroom.permissions import Action
from dateline.store import Store

M = TypeVar("M", bound=BaseModel)


class Cases:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        *,
        settings: Settings | None = None,
        on_commit: Callable[[int, int], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings or Settings()
        # Told synchronously of each commit, so this node's next read already knows of it.
        self.on_commit = on_commit
        # What time it is for publishing and scheduling (tests move it forward).
        self.clock = clock

    def _announce(self, event: Event | None) -> None:
        """Tell this node and the bus that `event` is committed. Never waits, never raises: the
        change is already in the store, and a lost notification only delays readers (the hubs
        poll the event log)."""
        if event is None:
            return
        if self.on_commit is not None:
            self.on_commit(event.blog_id, event.seq)
        self.bus.publish(event.blog_id, event.seq)

    async def member(self, user: User, blog: Blog) -> bool:
        return await permissions.is_member(self.store.is_member, user, blog)

    async def can_open(self, user: User, blog: Blog) -> bool:
        """Whether `user` works on `blog` (and so may read it while it is a draft)."""
        member = await self.member(user, blog)
        return permissions.may(user, Action.OPEN_BLOG, blog=blog, member=member)

    async def _ensure(
        self, user: User, action: Action, blog: Blog, post: Post | None = None
    ) -> bool:
        """Refuse (403) unless `user` may take `action` on `blog`; answers their membership."""
        return await permissions.ensure(self.store.is_member, user, action, blog, post)


def parse(model: type[M], data: Mapping[str, Any] | M) -> M:
    """What a writer sent, validated (checked after who may act, so that a refusal says so)."""
    if isinstance(data, model):
        return data
    return inputs.parse(model, data)
