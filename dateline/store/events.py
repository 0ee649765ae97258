"""The event log: one row per reader-visible change, appended in the change's own transaction.

The seq is taken by incrementing `blogs.last_seq` with UPDATE … RETURNING, which row-locks the blog
until commit: concurrent writers to one blog queue on that lock, and a rolled-back transaction
gives its number back, so seqs stay gap-free and strictly increasing in commit order.

The store does not know what readers receive: the writer hands it a `Shape`, which builds the
event's payload once the seq and the blog's new state are known."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dateline.errors import NotFound
from dateline.model import Blog, Event, EventType, Post
from dateline.store import schema as t
from dateline.store.rows import RowCodec, Rows

# (what happened, the blog as it now is, the post it happened to) -> the payload readers get
Shape = Callable[[EventType, Blog, Post | None], dict[str, Any]]

BLOGS = RowCodec(Blog, t.blogs)
EVENTS = RowCodec(Event, t.events, columns={"at": "created_at"})


class EventLog(Rows):
    async def _next_seq(
        self,
        conn: AsyncConnection,
        blog: Blog,
        *,
        count_delta: int,
        at: datetime,
        touch: bool = True,
    ) -> int:
        """Take the blog's next seq (locking its row until commit); `blog` gets its new state.
        `touch`: the change counts as the blog's latest update (a poll's new counts do not)."""
        values: dict[str, Any] = {
            "last_seq": t.blogs.c.last_seq + 1,
            "post_count": t.blogs.c.post_count + count_delta,
        }
        if touch:
            values["updated_at"] = at
        row = (
            await conn.execute(
                t.blogs.update()
                .where(t.blogs.c.id == blog.id)
                .values(**values)
                .returning(t.blogs.c.last_seq, t.blogs.c.post_count)
            )
        ).one()
        blog.last_seq, blog.post_count = row.last_seq, row.post_count
        if touch:
            blog.updated_at = at
        return int(row.last_seq)

    async def _log(
        self,
        conn: AsyncConnection,
        blog: Blog,
        type_: EventType,
        post: Post | None,
        shape: Shape,
        *,
        at: datetime,
    ) -> Event:
        """Write the event for the seq `_next_seq` just took."""
        assert blog.id is not None
        payload = shape(type_, blog, post)
        event = Event(blog.id, blog.last_seq, type_, post.id if post else None, payload, at)
        await conn.execute(t.events.insert().values(**EVENTS.values(event)))
        return event

    async def events_after(
        self, blog_id: int, after: int, *, until: int | None = None, limit: int = 1000
    ) -> list[Event]:
        query = (
            t.events.select()
            .where(t.events.c.blog_id == blog_id, t.events.c.seq > after)
            .order_by(t.events.c.seq)
            .limit(limit)
        )
        if until is not None:
            query = query.where(t.events.c.seq <= until)
        async with self.engines.reading() as conn:
            rows = await conn.execute(query)
            return [EVENTS.read(r._mapping) for r in rows]

    async def last_seq(self, blog_id: int) -> int:
        async with self.engines.reading() as conn:
            value = await conn.scalar(sa.select(t.blogs.c.last_seq).where(t.blogs.c.id == blog_id))
        if value is None:
            raise NotFound(f"there is no blog #{blog_id}")
        return int(value)
