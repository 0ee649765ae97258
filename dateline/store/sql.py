"""The store on SQLAlchemy Core: one implementation for SQLite and PostgreSQL.

Every write that readers can see appends to the blog's event log in the same transaction. The seq
is taken by incrementing `blogs.last_seq` with UPDATE … RETURNING, which row-locks the blog until
commit: concurrent writers to one blog queue on that lock, and a rolled-back transaction gives its
number back, so seqs stay gap-free and strictly increasing."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dateline import payloads
from dateline.errors import BadRequest, Conflict, NotFound
from dateline.model import (
    Blog,
    BlogStatus,
    Byline,
    Event,
    EventType,
    Media,
    Person,
    Post,
    PostStatus,
    Revision,
    User,
)
from dateline.store import schema as t
from dateline.store.engines import Engines, create_engines
from dateline.store.people import PeopleStore, new_id, utcnow


def new_public_id() -> str:
    # 60 random bits in lowercase base32: short in a URL, never guessable from its neighbours.
    return base64.b32encode(secrets.token_bytes(8)).decode().rstrip("=").lower()[:12]


class SQLStore(PeopleStore):
    def __init__(self, url: str) -> None:
        self.url = url
        self.engines: Engines = create_engines(url)

    @property
    def dialect(self) -> str:
        return self.engines.dialect

    async def close(self) -> None:
        await self.engines.dispose()

    # -- blogs -----------------------------------------------------------------------------

    async def create_blog(self, blog: Blog, *, creator: User | None = None) -> Blog:
        now = utcnow()
        blog.created_at = blog.created_at or now
        blog.updated_at = blog.updated_at or now
        async with self.engines.write.begin() as conn:
            blog.id = await self._insert_blog(conn, blog)
            if creator is not None and creator.id is not None:
                await conn.execute(
                    t.memberships.insert().values(user_id=creator.id, blog_id=blog.id)
                )
        return blog

    async def _insert_blog(self, conn: AsyncConnection, blog: Blog) -> int:
        try:
            result = await conn.execute(
                t.blogs.insert().values(
                    slug=blog.slug,
                    title=blog.title,
                    summary=blog.summary,
                    organisation=blog.organisation,
                    authors=[a.to_json() for a in blog.authors],
                    timezone=blog.timezone,
                    status=blog.status.value,
                    coverage_start=blog.coverage_start,
                    coverage_end=blog.coverage_end,
                    created_at=blog.created_at,
                    updated_at=blog.updated_at,
                    last_seq=0,
                    post_count=0,
                )
            )
        except IntegrityError as exc:
            raise Conflict(
                f"a blog with slug {blog.slug!r} already exists; choose another slug",
                field="slug",
            ) from exc
        return new_id(result)

    async def update_blog(self, blog: Blog, emit: EventType | None) -> tuple[Blog, Event | None]:
        assert blog.id is not None
        async with self.engines.write.begin() as conn:
            await conn.execute(
                t.blogs.update()
                .where(t.blogs.c.id == blog.id)
                .values(
                    title=blog.title,
                    summary=blog.summary,
                    organisation=blog.organisation,
                    authors=[a.to_json() for a in blog.authors],
                    timezone=blog.timezone,
                    status=blog.status.value,
                    coverage_start=blog.coverage_start,
                    coverage_end=blog.coverage_end,
                )
            )
            event = None
            if emit is not None:
                event = await self._append(conn, blog, emit, None, lambda b: {"blog": b})
            fresh = await self._blog_row(conn, t.blogs.c.id == blog.id)
        assert fresh is not None
        return fresh, event

    async def get_blog(self, slug: str) -> Blog:
        async with self.engines.read.connect() as conn:
            blog = await self._blog_row(conn, t.blogs.c.slug == slug)
        if blog is None:
            raise NotFound(f"there is no blog {slug!r}")
        return blog

    async def get_blog_by_id(self, blog_id: int) -> Blog:
        async with self.engines.read.connect() as conn:
            blog = await self._blog_row(conn, t.blogs.c.id == blog_id)
        if blog is None:
            raise NotFound(f"there is no blog #{blog_id}")
        return blog

    async def list_blogs(self) -> list[Blog]:
        async with self.engines.read.connect() as conn:
            rows = await conn.execute(t.blogs.select().order_by(t.blogs.c.updated_at.desc()))
            return [_blog(r._mapping) for r in rows]

    async def _blog_row(self, conn: AsyncConnection, where: Any) -> Blog | None:
        row = (await conn.execute(t.blogs.select().where(where))).first()
        return _blog(row._mapping) if row is not None else None

    # -- the event log ---------------------------------------------------------------------

    async def _append(
        self,
        conn: AsyncConnection,
        blog: Blog,
        type_: EventType,
        post: Post | None,
        payload: Any,
        *,
        count_delta: int = 0,
        at: datetime | None = None,
    ) -> Event:
        """Take the blog's next seq and write the event. `payload(blog_json)` builds the event's
        body once the seq and the blog's new state are known."""
        at = at or utcnow()
        row = (
            await conn.execute(
                t.blogs.update()
                .where(t.blogs.c.id == blog.id)
                .values(
                    last_seq=t.blogs.c.last_seq + 1,
                    post_count=t.blogs.c.post_count + count_delta,
                    updated_at=at,
                )
                .returning(*t.blogs.c)
            )
        ).one()
        fresh = _blog(row._mapping)
        blog.last_seq, blog.post_count, blog.updated_at = (
            fresh.last_seq,
            fresh.post_count,
            fresh.updated_at,
        )
        seq = fresh.last_seq
        if post is not None:
            post.seq = seq
            await conn.execute(
                t.posts.update().where(t.posts.c.public_id == post.id).values(seq=seq)
            )
            body = {"post": payloads.post_json(post)}
        else:
            body = payload(payloads.blog_json(fresh))
        await conn.execute(
            t.events.insert().values(
                blog_id=blog.id,
                seq=seq,
                type=type_.value,
                post_id=post.id if post else None,
                payload=body,
                created_at=at,
            )
        )
        assert blog.id is not None
        return Event(blog.id, seq, type_, post.id if post else None, body, at)

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
        async with self.engines.read.connect() as conn:
            rows = await conn.execute(query)
            return [_event(r._mapping) for r in rows]

    async def last_seq(self, blog_id: int) -> int:
        async with self.engines.read.connect() as conn:
            value = await conn.scalar(sa.select(t.blogs.c.last_seq).where(t.blogs.c.id == blog_id))
        if value is None:
            raise NotFound(f"there is no blog #{blog_id}")
        return int(value)

    # -- posts -----------------------------------------------------------------------------

    async def insert_post(
        self, blog: Blog, post: Post, *, user_id: int | None, emit: EventType | None
    ) -> tuple[Post, Event | None]:
        async with self.engines.write.begin() as conn:
            event = await self._insert_post(conn, blog, post, user_id=user_id, emit=emit)
        return post, event

    async def _insert_post(
        self,
        conn: AsyncConnection,
        blog: Blog,
        post: Post,
        *,
        user_id: int | None,
        emit: EventType | None,
    ) -> Event | None:
        now = utcnow()
        post.id = post.id or new_public_id()
        post.blog_slug = blog.slug
        post.created_at = post.created_at or now
        post.updated_at = post.updated_at or now
        result = await conn.execute(
            t.posts.insert().values(
                public_id=post.id,
                blog_id=blog.id,
                author_id=user_id,
                revision=post.revision,
                **_post_values(post),
            )
        )
        row_id = new_id(result)
        await self._save_revision(conn, row_id, post, user_id, note=None)
        if emit is None:
            return None
        delta = 1 if post.status is PostStatus.PUBLISHED else 0
        return await self._append(conn, blog, emit, post, None, count_delta=delta)

    async def update_post(
        self,
        blog: Blog,
        post: Post,
        *,
        user_id: int | None,
        new_revision: bool,
        note: str | None,
        emit: EventType | None,
        count_delta: int = 0,
    ) -> tuple[Post, Event | None]:
        """Save `post` as it now is. A content change (`new_revision`) bumps its revision and
        keeps the old text in the revision history."""
        post.updated_at = utcnow()
        async with self.engines.write.begin() as conn:
            row_id = await conn.scalar(
                sa.select(t.posts.c.id).where(t.posts.c.public_id == post.id).with_for_update()
            )
            if row_id is None:
                raise NotFound(f"there is no post {post.id!r} in blog {blog.slug!r}")
            if new_revision:
                post.revision += 1
                await self._save_revision(conn, row_id, post, user_id, note=note)
            await conn.execute(
                t.posts.update()
                .where(t.posts.c.id == row_id)
                .values(revision=post.revision, **_post_values(post))
            )
            event = None
            if emit is not None:
                event = await self._append(conn, blog, emit, post, None, count_delta=count_delta)
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
        await conn.execute(
            t.revisions.insert().values(
                post_id=row_id,
                number=post.revision,
                user_id=user_id,
                created_at=post.updated_at,
                headline=post.headline,
                body=post.body,
                byline=post.byline.to_json(),
                contributors=post.contributors,
                media=[m.to_json() for m in post.media],
                note=note,
            )
        )

    async def get_post(self, blog: Blog, post_id: str) -> Post:
        async with self.engines.read.connect() as conn:
            row = (
                await conn.execute(
                    t.posts.select().where(
                        t.posts.c.public_id == post_id, t.posts.c.blog_id == blog.id
                    )
                )
            ).first()
        if row is None:
            raise NotFound(f"there is no post {post_id!r} in blog {blog.slug!r}")
        return _post(row._mapping, blog.slug)

    async def list_posts(
        self,
        blog: Blog,
        *,
        newest_first: bool = True,
        limit: int = 20,
        cursor: str | None = None,
        statuses: Sequence[PostStatus] = (PostStatus.PUBLISHED,),
    ) -> tuple[list[Post], str | None]:
        """One page of posts in published-time order, and the cursor of the next page."""
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
        if cursor:
            when, public_id = decode_cursor(cursor)
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
        async with self.engines.read.connect() as conn:
            rows = (await conn.execute(query.limit(limit + 1))).all()
        found = [_post(r._mapping, blog.slug) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit and found:
            last = found[-1]
            last_when = last.published_at or last.created_at
            assert last_when is not None
            next_cursor = encode_cursor(last_when, last.id)
        return found, next_cursor

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
        async with self.engines.read.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_post(r._mapping, blog.slug) for r in rows]

    async def list_revisions(self, blog: Blog, post_id: str) -> list[Revision]:
        query = (
            sa.select(t.revisions, t.users.c.name.label("user_name"))
            .join(t.posts, t.posts.c.id == t.revisions.c.post_id)
            .outerjoin(t.users, t.users.c.id == t.revisions.c.user_id)
            .where(t.posts.c.public_id == post_id, t.posts.c.blog_id == blog.id)
            .order_by(t.revisions.c.number)
        )
        async with self.engines.read.connect() as conn:
            rows = await conn.execute(query)
            return [
                Revision(
                    post_id=post_id,
                    number=r.number,
                    user_id=r.user_id,
                    created_at=r.created_at,
                    headline=r.headline,
                    body=r.body,
                    note=r.note,
                    byline=Byline.from_json(r.byline),
                    contributors=r.contributors,
                    media=[Media.from_json(x) for x in r.media],
                    user_name=r.user_name,
                )
                for r in rows
            ]

    # -- scheduled posts -------------------------------------------------------------------

    async def due_posts(self, now: datetime, *, limit: int = 100) -> list[tuple[int, str]]:
        """(blog id, post id) of scheduled posts whose time has come, earliest first."""
        c = t.posts.c
        query = (
            sa.select(c.blog_id, c.public_id)
            .where(c.status == PostStatus.SCHEDULED.value, c.publish_at <= now)
            .order_by(c.publish_at, c.public_id)
            .limit(limit)
        )
        async with self.engines.read.connect() as conn:
            return [(int(r.blog_id), str(r.public_id)) for r in await conn.execute(query)]

    async def publish_scheduled(
        self, blog_id: int, post_id: str, now: datetime
    ) -> tuple[Post, Event] | None:
        """Publish one due scheduled post, or None if it is not (any more) due and scheduled.

        Exactly once across processes: the row is locked and its status re-read inside the
        transaction, so of two nodes that saw the same due post only the first publishes it."""
        c = t.posts.c
        async with self.engines.write.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(t.posts)
                    .where(c.public_id == post_id, c.blog_id == blog_id)
                    .with_for_update()
                )
            ).first()
            if row is None or row.status != PostStatus.SCHEDULED.value:
                return None
            if row.publish_at is None or row.publish_at > now:
                return None
            blog = await self._blog_row(conn, t.blogs.c.id == blog_id)
            assert blog is not None
            post = _post(row._mapping, blog.slug)
            post.status = PostStatus.PUBLISHED
            post.published_at = now
            post.updated_at = now
            await conn.execute(t.posts.update().where(c.id == row.id).values(**_post_values(post)))
            event = await self._append(
                conn, blog, EventType.POST_PUBLISHED, post, None, count_delta=1, at=now
            )
        return post, event

    # -- media -----------------------------------------------------------------------------

    async def add_media(self, values: dict[str, Any]) -> None:
        """Record an upload; the same file uploaded twice keeps its first row (and key)."""
        async with self.engines.write.begin() as conn:
            exists = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(t.media)
                .where(t.media.c.key == values["key"])
            )
            if not exists:
                try:
                    async with conn.begin_nested():
                        await conn.execute(t.media.insert().values(created_at=utcnow(), **values))
                except IntegrityError:
                    pass  # the same file, uploaded at the same moment by someone else

    async def get_media(self, key: str) -> dict[str, Any] | None:
        async with self.engines.read.connect() as conn:
            row = (await conn.execute(t.media.select().where(t.media.c.key == key))).first()
        return dict(row._mapping) if row is not None else None

    # -- import: a whole blog in one transaction -------------------------------------------

    async def import_blog(
        self, blog: Blog, posts: list[Post], *, user_id: int | None
    ) -> tuple[Blog, list[Event]]:
        """Create the blog and publish its posts oldest first, all or nothing."""
        blog.created_at = blog.created_at or utcnow()
        header_updated = blog.updated_at or blog.created_at
        blog.updated_at = blog.created_at
        emitted: list[Event] = []
        async with self.engines.write.begin() as conn:
            blog.id = await self._insert_blog(conn, blog)
            if user_id is not None:
                await conn.execute(t.memberships.insert().values(user_id=user_id, blog_id=blog.id))
            created = blog.created_at
            for post in sorted(posts, key=lambda p: p.published_at or created):
                event = await self._insert_post(
                    conn, blog, post, user_id=user_id, emit=EventType.POST_PUBLISHED
                )
                assert event is not None
                emitted.append(event)
            # The header's own "Updated" time wins over the last post's time.
            await conn.execute(
                t.blogs.update().where(t.blogs.c.id == blog.id).values(updated_at=header_updated)
            )
            fresh = await self._blog_row(conn, t.blogs.c.id == blog.id)
        assert fresh is not None
        return fresh, emitted


# -- rows → domain ---------------------------------------------------------------------------


def encode_cursor(when: datetime, public_id: str) -> str:
    raw = f"{when.astimezone(UTC).isoformat()}|{public_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, public_id = raw.split("|", 1)
        moment = datetime.fromisoformat(when)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest(
            "cursor is not one this server gave out; use the next_cursor of a previous page",
            field="cursor",
        ) from exc
    if moment.tzinfo is None:
        raise BadRequest("cursor is malformed", field="cursor")
    return moment, public_id


def _post_values(post: Post) -> dict[str, Any]:
    return {
        "headline": post.headline,
        "body": post.body,
        "body_html": post.body_html,
        "byline": post.byline.to_json(),
        "contributors": post.contributors,
        "media": [m.to_json() for m in post.media],
        "tags": post.tags,
        "pinned": post.pinned,
        "key_event": post.key_event,
        "status": post.status.value,
        "published_at": post.published_at,
        "created_at": post.created_at,
        "updated_at": post.updated_at,
        "correction": post.correction,
        "delete_reason": post.delete_reason,
        "publish_at": post.publish_at,
        "review_note": post.review_note,
    }


def _blog(m: Any) -> Blog:
    return Blog(
        id=m["id"],
        slug=m["slug"],
        title=m["title"],
        summary=m["summary"],
        organisation=m["organisation"],
        authors=[Person(a["name"]) for a in m["authors"]],
        timezone=m["timezone"],
        status=BlogStatus(m["status"]),
        coverage_start=m["coverage_start"],
        coverage_end=m["coverage_end"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        last_seq=m["last_seq"],
        post_count=m["post_count"],
    )


def _post(m: Any, slug: str) -> Post:
    return Post(
        blog_slug=slug,
        id=m["public_id"],
        headline=m["headline"],
        body=m["body"],
        body_html=m["body_html"],
        byline=Byline.from_json(m["byline"]),
        contributors=m["contributors"],
        media=[Media.from_json(x) for x in m["media"]],
        tags=list(m["tags"]),
        pinned=bool(m["pinned"]),
        key_event=bool(m["key_event"]),
        status=PostStatus(m["status"]),
        published_at=m["published_at"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        revision=m["revision"],
        correction=m["correction"],
        seq=m["seq"],
        author_id=m["author_id"],
        delete_reason=m["delete_reason"],
        publish_at=m["publish_at"],
        review_note=m["review_note"],
    )


def _event(m: Any) -> Event:
    return Event(
        blog_id=m["blog_id"],
        seq=m["seq"],
        type=EventType(m["type"]),
        post_id=m["post_id"],
        payload=m["payload"],
        at=m["created_at"],
    )
