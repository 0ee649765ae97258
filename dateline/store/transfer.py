"""Whole blogs in and out: imports written in batches, and a blog read back whole for an export.

An import is written into a hidden blog, in short transactions of a few hundred posts each, so a
live node sharing the database keeps writing between them (SQLite has one writer; one transaction
of 100,000 posts held it for minutes). The hidden blog has a slug no URL can name (`_import-…`;
slugs start with a letter or a digit) and status draft. Only the last transaction gives it its
real slug, status and counts: readers see the whole blog at once or nothing. If an import fails
half way, its hidden blog is dropped (its posts, revisions and events go with it); one left by a
crashed import is dropped by the next import that starts a day later or more.

The event log of an imported blog is written after its posts, oldest post first, so seqs follow
the posts' times whatever order the source listed them in. A restored archive brings its own
event log (seq, type, post, time); every payload is rebuilt from the restored posts, never taken
from the file: payloads reach readers' browsers."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dateline.errors import Conflict
from dateline.model import Blog, BlogStatus, Event, EventType, Post, PostStatus, Revision, User
from dateline.store import schema as t
from dateline.store.blogs import HIDDEN_PREFIX
from dateline.store.events import BLOGS, EVENTS, Shape
from dateline.store.people import USERS
from dateline.store.posts import POSTS, REVISIONS, PostRows, new_public_id
from dateline.store.rows import new_id, utcnow

STALE_AFTER = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event as an archive keeps it: its payload is rebuilt on restore."""

    seq: int
    type: EventType
    post_id: str | None
    at: datetime


class TransferRows(PostRows):
    # -- writing an import ------------------------------------------------------------------

    async def open_import(
        self, blog: Blog, new_users: Sequence[User] = ()
    ) -> tuple[Blog, list[int]]:
        """Create the hidden blog an import writes into, and the accounts it needs that do not
        exist yet (`new_users`; their ids are returned so a failed import can remove them).
        Refuses at once (Conflict) when the slug is taken, so a long import does not run for
        nothing; the last step checks again."""
        now = utcnow()
        async with self.engines.writing() as conn:
            await self._drop_stale_imports(conn, now)
            taken = await conn.scalar(sa.select(t.blogs.c.id).where(t.blogs.c.slug == blog.slug))
            if taken is not None:
                raise Conflict(
                    f"a blog with slug {blog.slug!r} already exists; choose another slug",
                    field="slug",
                )
            hidden = replace(
                blog,
                slug=HIDDEN_PREFIX + secrets.token_hex(8),
                status=BlogStatus.DRAFT,
                created_at=blog.created_at or now,
                updated_at=now,
                last_seq=0,
                post_count=0,
            )
            values = BLOGS.values(hidden, without=("id",))
            hidden.id = new_id(await conn.execute(t.blogs.insert().values(**values)))
            user_ids: list[int] = []
            for user in new_users:
                user.created_at = user.created_at or now
                result = await conn.execute(
                    t.users.insert().values(**USERS.values(user, without=("id",)))
                )
                user.id = new_id(result)
                user_ids.append(user.id)
        return hidden, user_ids

    async def _drop_stale_imports(self, conn: AsyncConnection, now: datetime) -> None:
        await conn.execute(
            t.blogs.delete().where(
                t.blogs.c.slug.startswith(HIDDEN_PREFIX, autoescape=True),
                t.blogs.c.updated_at < now - STALE_AFTER,
            )
        )

    async def add_imported(
        self, hidden: Blog, batch: Sequence[tuple[Post, Sequence[Revision]]]
    ) -> None:
        """Write a batch of posts, each with all its revisions (oldest first; the last is the
        post's current text), in one transaction. Posts keep the ids, seqs and authors they are
        handed; a post without an id gets a new one."""
        if not batch:
            return
        rows = []
        for post, _ in batch:
            post.id = post.id or new_public_id()
            rows.append({"blog_id": hidden.id, **POSTS.values(post)})
        async with self.engines.writing() as conn:
            # Keep the hidden blog fresh so a concurrent import does not take it for stale.
            await conn.execute(
                t.blogs.update().where(t.blogs.c.id == hidden.id).values(updated_at=utcnow())
            )
            result = await conn.execute(
                t.posts.insert().returning(t.posts.c.id, sort_by_parameter_order=True), rows
            )
            row_ids = [int(r[0]) for r in result]
            revisions = [
                {"post_id": row_id, **REVISIONS.values(revision)}
                for row_id, (_, history) in zip(row_ids, batch, strict=True)
                for revision in history
            ]
            if revisions:
                await conn.execute(t.revisions.insert(), revisions)
            for row_id, (post, _) in zip(row_ids, batch, strict=True):
                if post.poll is not None:
                    await self._restore_poll(conn, hidden, row_id, post.poll)

    async def log_imported(
        self,
        hidden: Blog,
        final: Blog,
        shape: Shape,
        *,
        chunk: int = 500,
    ) -> AsyncIterator[int]:
        """Give the published posts of an import their events, oldest first, in transactions of
        `chunk` posts; yields how many are done after each. `final` is the blog as readers will
        see it (its slug is in every payload)."""
        c = t.posts.c
        done = 0
        after: tuple[datetime, str] | None = None
        while True:
            query = (
                sa.select(t.posts)
                .where(c.blog_id == hidden.id, c.status == PostStatus.PUBLISHED.value)
                .order_by(c.published_at, c.public_id)
                .limit(chunk)
            )
            if after is not None:
                when, public_id = after
                query = query.where(
                    sa.or_(
                        c.published_at > when,
                        sa.and_(c.published_at == when, c.public_id > public_id),
                    )
                )
            async with self.engines.writing() as conn:
                rows = (await conn.execute(query)).all()
                if not rows:
                    return
                seq = int(
                    await conn.scalar(
                        sa.select(t.blogs.c.last_seq).where(t.blogs.c.id == hidden.id)
                    )
                    or 0
                )
                events, updates = [], []
                view = replace(final, id=hidden.id)
                for row in rows:
                    seq += 1
                    post = POSTS.read(row._mapping, blog_slug=final.slug)
                    post.seq = seq
                    view.last_seq = seq
                    at = post.published_at or post.created_at or utcnow()
                    payload = shape(EventType.POST_PUBLISHED, view, post)
                    events.append(
                        EVENTS.values(
                            Event(
                                hidden.id or 0, seq, EventType.POST_PUBLISHED, post.id, payload, at
                            )
                        )
                    )
                    updates.append({"row_id": row.id, "new_seq": seq})
                await conn.execute(t.events.insert(), events)
                await conn.execute(
                    t.posts.update()
                    .where(t.posts.c.id == sa.bindparam("row_id"))
                    .values(seq=sa.bindparam("new_seq")),
                    updates,
                )
                await conn.execute(
                    t.blogs.update()
                    .where(t.blogs.c.id == hidden.id)
                    .values(last_seq=seq, updated_at=utcnow())
                )
            last = rows[-1]._mapping
            after = (last["published_at"], last["public_id"])
            done += len(rows)
            yield done

    async def restore_events(
        self, hidden: Blog, final: Blog, events: Sequence[LoggedEvent], shape: Shape
    ) -> None:
        """Write a batch of a restored archive's events, each payload rebuilt from the restored
        post (or the final blog header)."""
        if not events:
            return
        wanted = {e.post_id for e in events if e.post_id is not None}
        view = replace(final, id=hidden.id)
        async with self.engines.writing() as conn:
            posts: dict[str, Post] = {}
            if wanted:
                query = t.posts.select().where(
                    t.posts.c.blog_id == hidden.id, t.posts.c.public_id.in_(sorted(wanted))
                )
                for row in await conn.execute(query):
                    found = POSTS.read(row._mapping, blog_slug=final.slug)
                    posts[found.id] = found
            rows = []
            for event in events:
                post = posts.get(event.post_id) if event.post_id is not None else None
                payload = shape(event.type, view, post)
                rows.append(
                    EVENTS.values(
                        Event(
                            hidden.id or 0, event.seq, event.type, event.post_id, payload, event.at
                        )
                    )
                )
            await conn.execute(t.events.insert(), rows)
            await conn.execute(
                t.blogs.update().where(t.blogs.c.id == hidden.id).values(updated_at=utcnow())
            )

    async def close_import(
        self,
        hidden: Blog,
        final: Blog,
        member_ids: Iterable[int],
        *,
        uploads: Sequence[dict[str, Any]] = (),
    ) -> Blog:
        """The last step: the hidden blog takes its real slug, header and counts, its members,
        and the records of the images it brings (a key already here keeps its record), in one
        transaction. `final.last_seq` of 0 keeps the seq the log reached."""
        c = t.posts.c
        async with self.engines.writing() as conn:
            taken = await conn.scalar(sa.select(t.blogs.c.id).where(t.blogs.c.slug == final.slug))
            if taken is not None:
                raise Conflict(
                    f"a blog with slug {final.slug!r} already exists; choose another slug",
                    field="slug",
                )
            published = sa.select(
                sa.func.count(), sa.func.min(c.published_at), sa.func.max(c.seq)
            ).where(c.blog_id == hidden.id, c.status == PostStatus.PUBLISHED.value)
            count, first, _ = (await conn.execute(published)).one()
            last_seq = final.last_seq or int(
                await conn.scalar(sa.select(t.blogs.c.last_seq).where(t.blogs.c.id == hidden.id))
                or 0
            )
            header = BLOGS.values(final, without=("id", "last_seq", "post_count"))
            header.update(last_seq=last_seq, post_count=int(count))
            if header.get("coverage_start") is None:
                header["coverage_start"] = first
            if header.get("created_at") is None:
                header["created_at"] = first or utcnow()
            if header.get("updated_at") is None:
                header["updated_at"] = utcnow()
            await conn.execute(t.blogs.update().where(t.blogs.c.id == hidden.id).values(**header))
            for user_id in sorted(set(member_ids)):
                await conn.execute(
                    t.memberships.insert().values(user_id=user_id, blog_id=hidden.id)
                )
            for upload in uploads:
                exists = await conn.scalar(
                    sa.select(t.media.c.id).where(t.media.c.key == upload["key"])
                )
                if exists is None:
                    await conn.execute(t.media.insert().values(**upload))
            fresh = await self._blog_row(conn, t.blogs.c.id == hidden.id)
        assert fresh is not None
        return fresh

    async def drop_import(self, hidden: Blog, user_ids: Iterable[int] = ()) -> None:
        """Remove a failed import: the hidden blog with all it holds, and the accounts it made."""
        async with self.engines.writing() as conn:
            await conn.execute(t.blogs.delete().where(t.blogs.c.id == hidden.id))
            ids = sorted(set(user_ids))
            if ids:
                await conn.execute(t.users.delete().where(t.users.c.id.in_(ids)))

    async def post_ids_taken(self, post_ids: Sequence[str]) -> list[str]:
        """Which of these public post ids the store already holds."""
        if not post_ids:
            return []
        async with self.engines.reading() as conn:
            rows = await conn.execute(
                sa.select(t.posts.c.public_id).where(t.posts.c.public_id.in_(list(post_ids)))
            )
            return [str(r[0]) for r in rows]

    # -- reading a whole blog for an export ----------------------------------------------------

    async def posts_for_export(
        self, blog: Blog, *, chunk: int = 500
    ) -> AsyncIterator[list[tuple[Post, list[Revision], str | None, dict[int, str | None]]]]:
        """Every post of the blog in every status, oldest written first, in chunks: each with
        its revisions, its author's email and each revision's writer's email (by number)."""
        c = t.posts.c
        last_row = 0
        while True:
            query = (
                sa.select(t.posts, t.users.c.email.label("author_email"))
                .outerjoin(t.users, t.users.c.id == c.author_id)
                .where(c.blog_id == blog.id, c.id > last_row)
                .order_by(c.id)
                .limit(chunk)
            )
            async with self.engines.reading() as conn:
                rows = (await conn.execute(query)).all()
                if not rows:
                    return
                row_ids = [r.id for r in rows]
                revs = await conn.execute(
                    sa.select(
                        t.revisions,
                        t.users.c.email.label("user_email"),
                        t.users.c.name.label("user_name"),
                    )
                    .outerjoin(t.users, t.users.c.id == t.revisions.c.user_id)
                    .where(t.revisions.c.post_id.in_(row_ids))
                    .order_by(t.revisions.c.post_id, t.revisions.c.number)
                )
                history: dict[int, list[tuple[Revision, str | None]]] = {}
                for r in revs:
                    revision = REVISIONS.read(r._mapping, post_id="", user_name=r.user_name)
                    history.setdefault(r.post_id, []).append((revision, r.user_email))
                posts = [(row.id, POSTS.read(row._mapping, blog_slug=blog.slug)) for row in rows]
                await self._attach_polls(conn, posts)
            out = []
            for row, (_, post) in zip(rows, posts, strict=True):
                kept = history.get(row.id, [])
                revisions = [replace(rev, post_id=post.id) for rev, _ in kept]
                emails = {rev.number: email for rev, email in kept}
                out.append((post, revisions, row.author_email, emails))
            last_row = rows[-1].id
            yield out

    async def events_for_export(
        self, blog: Blog, *, chunk: int = 2000
    ) -> AsyncIterator[list[LoggedEvent]]:
        after = 0
        while True:
            found = await self.events_after(blog.id or 0, after, limit=chunk)
            if not found:
                return
            yield [LoggedEvent(e.seq, e.type, e.post_id, e.at) for e in found]
            after = found[-1].seq

    async def media_records(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The upload records with these keys, with the uploader's email instead of their id."""
        if not keys:
            return []
        query = (
            sa.select(t.media, t.users.c.email.label("uploaded_by_email"))
            .outerjoin(t.users, t.users.c.id == t.media.c.uploaded_by)
            .where(t.media.c.key.in_(sorted(set(keys))))
            .order_by(t.media.c.key)
        )
        async with self.engines.reading() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]

    async def users_by_email(self, emails: Iterable[str]) -> dict[str, User]:
        """The users with these emails (stored lowercase, as accounts are made), by email."""
        wanted = sorted({e.strip().lower() for e in emails})
        if not wanted:
            return {}
        async with self.engines.reading() as conn:
            rows = await conn.execute(t.users.select().where(t.users.c.email.in_(wanted)))
            return {u.email: u for u in (USERS.read(r._mapping) for r in rows)}
