"""Blogs: their headers, their status, and whole blogs imported in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dateline.errors import Conflict, NotFound
from dateline.model import Blog, Event, EventType, User
from dateline.store import schema as t
from dateline.store.events import BLOGS, EventLog, Shape
from dateline.store.rows import new_id, utcnow

# The slugs of blogs being imported (store/transfer.py): no blog slug starts with "_", so no URL
# names them, and nothing lists or finds them until the import gives them their real slug.
HIDDEN_PREFIX = "_import-"


class BlogRows(EventLog):
    async def create_blog(self, blog: Blog, *, creator: User | None = None) -> Blog:
        now = utcnow()
        blog.created_at = blog.created_at or now
        blog.updated_at = blog.updated_at or now
        async with self.engines.writing() as conn:
            blog.id = await self._insert_blog(conn, blog)
            if creator is not None and creator.id is not None:
                await conn.execute(
                    t.memberships.insert().values(user_id=creator.id, blog_id=blog.id)
                )
        return blog

    async def _insert_blog(self, conn: AsyncConnection, blog: Blog) -> int:
        values = BLOGS.values(blog, without=("id",))
        try:
            result = await conn.execute(
                t.blogs.insert().values(**{**values, "last_seq": 0, "post_count": 0})
            )
        except IntegrityError as exc:
            raise Conflict(
                f"a blog with slug {blog.slug!r} already exists; choose another slug",
                field="slug",
            ) from exc
        return new_id(result)

    async def change_blog(
        self, slug: str, change: Callable[[Blog], EventType | None], *, shape: Shape
    ) -> tuple[Blog, Event | None]:
        """Apply `change` to the blog as it is inside the transaction (its row locked), save it,
        and log the event `change` names. If `change` raises, nothing is written."""
        async with self.engines.writing() as conn:
            blog = await self._blog_row(conn, t.blogs.c.slug == slug, lock=True)
            if blog is None:
                raise NotFound(f"there is no blog {slug!r}")
            emit = change(blog)
            at = utcnow()
            if emit is not None:
                await self._next_seq(conn, blog, count_delta=0, at=at)
            header = BLOGS.values(blog, without=("id", "last_seq", "post_count", "created_at"))
            await conn.execute(t.blogs.update().where(t.blogs.c.id == blog.id).values(**header))
            event = None
            if emit is not None:
                event = await self._log(conn, blog, emit, None, shape, at=at)
        return blog, event

    async def get_blog(self, slug: str) -> Blog:
        if slug.startswith(HIDDEN_PREFIX):
            raise NotFound(f"there is no blog {slug!r}")
        async with self.engines.reading() as conn:
            blog = await self._blog_row(conn, t.blogs.c.slug == slug)
        if blog is None:
            raise NotFound(f"there is no blog {slug!r}")
        return blog

    async def get_blog_by_id(self, blog_id: int) -> Blog:
        async with self.engines.reading() as conn:
            blog = await self._blog_row(conn, t.blogs.c.id == blog_id)
        if blog is None:
            raise NotFound(f"there is no blog #{blog_id}")
        return blog

    async def list_blogs(self) -> list[Blog]:
        async with self.engines.reading() as conn:
            rows = await conn.execute(
                t.blogs.select()
                .where(~t.blogs.c.slug.startswith(HIDDEN_PREFIX, autoescape=True))
                .order_by(t.blogs.c.updated_at.desc())
            )
            return [BLOGS.read(r._mapping) for r in rows]

    async def _blog_row(
        self, conn: AsyncConnection, where: Any, *, lock: bool = False
    ) -> Blog | None:
        query = t.blogs.select().where(where)
        if lock:
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        return BLOGS.read(row._mapping) if row is not None else None
