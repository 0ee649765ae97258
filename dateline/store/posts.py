"""Posts and their revisions.

A change to a post is a transition of the post as it is inside the write transaction: its row is
locked (PostgreSQL: SELECT … FOR UPDATE; SQLite: its one writer), the newsroom's `change` decides
on that state and may refuse, and the result is written with its event. Of two racing requests the
second sees what the first committed, so a deleted post stays deleted and no change is lost."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dateline.errors import AlreadyPosted, NotFound
from dateline.model import (
    Blog,
    BlogStatus,
    Event,
    EventType,
    Post,
    PostStatus,
    Revision,
    content_fields,
)
from dateline.store import schema as t
from dateline.store.events import Shape
from dateline.store.polls import PollRows
from dateline.store.rows import RowCodec, new_id, utcnow

POSTS = RowCodec(Post, t.posts, columns={"id": "public_id"})
REVISIONS = RowCodec(Revision, t.revisions, skip=("post_id", "user_name"))
# Where a page of posts ends: (the time it is ordered by, its public id).
Keyset = tuple[datetime, str]


@dataclass(frozen=True, slots=True)
class PostChange:
    """What a change to a post did: the event readers get (if any), whether its text changed
    (a new revision, with the correction `note`), and how the blog's post count moves."""

    emit: EventType | None = None
    new_revision: bool = False
    note: str | None = None
    count_delta: int = 0


def new_public_id() -> str:
    # 60 random bits in lowercase base32: short in a URL, never guessable from its neighbours.
    return base64.b32encode(secrets.token_bytes(8)).decode().rstrip("=").lower()[:12]


class PostRows(PollRows):
    async def insert_post(
        self,
        blog: Blog,
        post: Post,
        *,
        user_id: int | None,
        emit: EventType | None,
        shape: Shape,
        check: Callable[[Blog], None] | None = None,
    ) -> tuple[Post, Event | None]:
        """Write a new post (and its event). `check` sees the blog as it is inside the
        transaction, its row locked, and may refuse: then nothing is written."""
        try:
            async with self.engines.writing() as conn:
                if check is not None:
                    locked = await self._blog_row(conn, t.blogs.c.id == blog.id, lock=True)
                    if locked is None:
                        raise NotFound(f"there is no blog {blog.slug!r}")
                    check(locked)
                event = await self._insert_post(
                    conn, blog, post, user_id=user_id, emit=emit, shape=shape
                )
        except IntegrityError:
            earlier = await self._post_from(post.origin) if post.origin else None
            if earlier is None:
                raise
            raise AlreadyPosted(f"{post.origin} was posted already", post_id=earlier) from None
        return post, event

    async def _post_from(self, origin: str) -> str | None:
        async with self.engines.reading() as conn:
            found = await conn.scalar(
                sa.select(t.posts.c.public_id).where(t.posts.c.origin == origin)
            )
        return str(found) if found is not None else None

    async def _insert_post(
        self,
        conn: AsyncConnection,
        blog: Blog,
        post: Post,
        *,
        user_id: int | None,
        emit: EventType | None,
        shape: Shape,
    ) -> Event | None:
        now = utcnow()
        post.id = post.id or new_public_id()
        post.blog_slug = blog.slug
        post.created_at = post.created_at or now
        post.updated_at = post.updated_at or now
        post.author_id = user_id
        if emit is not None:
            delta = 1 if post.status is PostStatus.PUBLISHED else 0
            post.seq = await self._next_seq(conn, blog, count_delta=delta, at=now)
        result = await conn.execute(t.posts.insert().values(blog_id=blog.id, **POSTS.values(post)))
        row_id = new_id(result)
        await self._save_revision(conn, row_id, post, user_id, note=None)
        if post.poll is not None:
            assert blog.id is not None
            await self._save_poll(conn, blog.id, row_id, None, post.poll, now)
        if emit is None:
            return None
        return await self._log(conn, blog, emit, post, shape, at=now)

    async def change_post(
        self,
        blog: Blog,
        post_id: str,
        change: Callable[[Post, Blog], PostChange | None],
        *,
        user_id: int | None,
        shape: Shape,
        at: datetime | None = None,
    ) -> tuple[Post, Event | None]:
        """Apply `change` to the post and its blog as they are inside the transaction (both rows
        locked) and save the result. `change` may raise (nothing is written) or answer None
        (nothing to do)."""
        async with self.engines.writing() as conn:
            row = (
                await conn.execute(
                    sa.select(t.posts)
                    .where(t.posts.c.public_id == post_id, t.posts.c.blog_id == blog.id)
                    .with_for_update()
                )
            ).first()
            if row is None:
                raise NotFound(f"there is no post {post_id!r} in blog {blog.slug!r}")
            post = POSTS.read(row._mapping, blog_slug=blog.slug)
            await self._attach_polls(conn, [(row.id, post)])
            poll_before = post.poll
            locked = await self._blog_row(conn, t.blogs.c.id == blog.id, lock=True)
            assert locked is not None  # the post's row holds its blog
            done = change(post, locked)
            if done is None:
                return post, None
            now = at or utcnow()
            if post.poll != poll_before:
                assert blog.id is not None
                await self._save_poll(conn, blog.id, row.id, poll_before, post.poll, now)
            post.updated_at = now
            if done.new_revision:
                post.revision += 1
                await self._save_revision(conn, row.id, post, user_id, note=done.note)
            if done.emit is not None:
                post.seq = await self._next_seq(conn, blog, count_delta=done.count_delta, at=now)
            await conn.execute(
                t.posts.update().where(t.posts.c.id == row.id).values(**POSTS.values(post))
            )
            event = None
            if done.emit is not None:
                event = await self._log(conn, blog, done.emit, post, shape, at=now)
        return post, event

    async def _save_revision(
        self,
        conn: AsyncConnection,
        row_id: int,
        post: Post,
        user_id: int | None,
        *,
        note: str | None,
    ) -> None:
        revision = Revision(
            post_id=post.id,
            number=post.revision,
            user_id=user_id,
            created_at=post.updated_at or utcnow(),
            note=note,
            **{name: getattr(post, name) for name in CONTENT},
        )
        await conn.execute(
            t.revisions.insert().values(post_id=row_id, **REVISIONS.values(revision))
        )

    async def get_post(self, blog: Blog, post_id: str) -> Post:
        async with self.engines.reading() as conn:
            row = (
                await conn.execute(
                    t.posts.select().where(
                        t.posts.c.public_id == post_id, t.posts.c.blog_id == blog.id
                    )
                )
            ).first()
            if row is None:
                raise NotFound(f"there is no post {post_id!r} in blog {blog.slug!r}")
            post = POSTS.read(row._mapping, blog_slug=blog.slug)
            await self._attach_polls(conn, [(row.id, post)])
        return post

    async def list_posts(
        self,
        blog: Blog,
        *,
        newest_first: bool = True,
        limit: int = 20,
        after: Keyset | None = None,
        statuses: Sequence[PostStatus] = (PostStatus.PUBLISHED,),
        tag: str | None = None,
    ) -> tuple[list[Post], Keyset | None]:
        """One page of posts in published-time order (only those tagged `tag`, if given), and
        where the next page starts."""
        c = t.posts.c
        # Published posts always have a published_at (and the timeline index covers it);
        # drafts are listed by when they were written.
        only_published = tuple(statuses) == (PostStatus.PUBLISHED,)
        order_key = (
            c.published_at if only_published else sa.func.coalesce(c.published_at, c.created_at)
        )
        query = sa.select(t.posts).where(
            c.blog_id == blog.id, c.status.in_([s.value for s in statuses])
        )
        if tag is not None:
            query = query.where(self._tagged(tag))
        if after is not None:
            when, public_id = after
            if newest_first:
                query = query.where(
                    sa.or_(order_key < when, sa.and_(order_key == when, c.public_id < public_id))
                )
            else:
                query = query.where(
                    sa.or_(order_key > when, sa.and_(order_key == when, c.public_id > public_id))
                )
        if newest_first:
            query = query.order_by(order_key.desc(), c.public_id.desc())
        else:
            query = query.order_by(order_key.asc(), c.public_id.asc())
        async with self.engines.reading() as conn:
            rows = (await conn.execute(query.limit(limit + 1))).all()
            found = await self._read_posts(conn, rows[:limit], blog)
        following = None
        if len(rows) > limit and found:
            last = found[-1]
            last_when = last.published_at or last.created_at
            assert last_when is not None
            following = (last_when, last.id)
        return found, following

    def _tagged(self, tag: str) -> Any:
        """Posts whose tags (a JSON array) hold `tag`, in each engine's own JSON idiom."""
        if self.engines.dialect == "postgresql":
            return sa.cast(t.posts.c.tags, JSONB).contains([tag])
        each = sa.func.json_each(t.posts.c.tags).table_valued("value")
        return sa.exists(sa.select(1).select_from(each).where(each.c.value == tag))

    async def flagged_posts(self, blog: Blog, *, limit: int = 50) -> list[Post]:
        """Published posts that are pinned or key events, newest first (the page's top boxes)."""
        c = t.posts.c
        query = (
            sa.select(t.posts)
            .where(
                c.blog_id == blog.id,
                c.status == PostStatus.PUBLISHED.value,
                sa.or_(c.pinned.is_(True), c.key_event.is_(True)),
            )
            .order_by(c.published_at.desc(), c.public_id.desc())
            .limit(limit)
        )
        async with self.engines.reading() as conn:
            rows = (await conn.execute(query)).all()
            return await self._read_posts(conn, rows, blog)

    async def _read_posts(
        self, conn: AsyncConnection, rows: Sequence[sa.Row[Any]], blog: Blog
    ) -> list[Post]:
        """Posts from their rows, each with its poll (if it has one)."""
        pairs = [(int(r.id), POSTS.read(r._mapping, blog_slug=blog.slug)) for r in rows]
        await self._attach_polls(conn, pairs)
        return [post for _, post in pairs]

    async def list_revisions(self, blog: Blog, post_id: str) -> list[Revision]:
        query = (
            sa.select(t.revisions, t.users.c.name.label("user_name"))
            .join(t.posts, t.posts.c.id == t.revisions.c.post_id)
            .outerjoin(t.users, t.users.c.id == t.revisions.c.user_id)
            .where(t.posts.c.public_id == post_id, t.posts.c.blog_id == blog.id)
            .order_by(t.revisions.c.number)
        )
        async with self.engines.reading() as conn:
            rows = await conn.execute(query)
            return [
                REVISIONS.read(r._mapping, post_id=post_id, user_name=r.user_name) for r in rows
            ]

    async def due_posts(self, now: datetime, *, limit: int = 100) -> list[tuple[int, str]]:
        """(blog id, post id) of scheduled posts whose time has come, earliest first."""
        c = t.posts.c
        query = (
            sa.select(c.blog_id, c.public_id)
            .join(t.blogs, t.blogs.c.id == c.blog_id)
            .where(
                c.status == PostStatus.SCHEDULED.value,
                c.publish_at <= now,
                # Ended coverage publishes nothing more; its scheduled posts wait for a reopening.
                t.blogs.c.status != BlogStatus.ENDED.value,
            )
            .order_by(c.publish_at, c.public_id)
            .limit(limit)
        )
        async with self.engines.reading() as conn:
            return [(int(r.blog_id), str(r.public_id)) for r in await conn.execute(query)]

    async def due_embeds(
        self, now: datetime, *, limit: int = 20
    ) -> list[tuple[int, str, datetime]]:
        """(blog id, post id, due time) of posts with embeds to fetch now, earliest first."""
        c = t.posts.c
        query = (
            sa.select(c.blog_id, c.public_id, c.embeds_due)
            .where(c.embeds_due <= now, c.status != PostStatus.DELETED.value)
            .order_by(c.embeds_due, c.public_id)
            .limit(limit)
        )
        async with self.engines.reading() as conn:
            return [
                (int(r.blog_id), str(r.public_id), r.embeds_due) for r in await conn.execute(query)
            ]

    async def claim_embeds(self, post_id: str, due: datetime, until: datetime) -> bool:
        """Take the fetching of a post's embeds until `until`, if nobody took it since it was seen
        due at `due` (nodes share the work: each post is fetched by one of them at a time)."""
        c = t.posts.c
        async with self.engines.writing() as conn:
            done = await conn.execute(
                t.posts.update()
                .where(c.public_id == post_id, c.embeds_due == due)
                .values(embeds_due=until)
            )
        return done.rowcount == 1


# The fields of a post's text, each kept in every revision.
CONTENT = content_fields(Post)
