"""Readers' polls: one per post at most, its votes, and the results events that tell readers.

Counting is exact by construction: a vote is one transaction that raises `polls.votes` with a
conditional UPDATE (the poll is open, its post published, its blog live: a vote racing the poll's
closing either counts or is refused, never half-written) and inserts the vote under the unique key
(poll, voter), so a second vote from one browser rolls the whole transaction back. The counts per
option are read from the votes themselves.

Votes are not events. A results event is appended by whichever node first claims the change with
a conditional UPDATE of `announced_votes`/`announced_at`, at most once per poll per `gap`, so a
vote storm gives readers one event a second, and two nodes never announce the same change."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dateline.errors import Conflict, Invalid, NotFound
from dateline.model import (
    Blog,
    BlogStatus,
    Event,
    EventType,
    Poll,
    PollOption,
    Post,
    PostStatus,
)
from dateline.store import schema as t
from dateline.store.blogs import BlogRows
from dateline.store.events import Shape
from dateline.store.rows import utcnow

P = t.polls.c


def _poll(row: Any, counts: dict[int, int]) -> Poll:
    options = tuple(PollOption(str(text), counts.get(i, 0)) for i, text in enumerate(row.options))
    return Poll(row.id, row.question, options, row.closes_at, row.created_at)


class PollRows(BlogRows):
    async def _counts(self, conn: AsyncConnection, poll_ids: Sequence[str]) -> dict[str, Any]:
        """{poll id: {option: votes}} for the polls named."""
        v = t.poll_votes.c
        rows = await conn.execute(
            sa.select(v.poll_id, v.option, sa.func.count().label("n"))
            .where(v.poll_id.in_(poll_ids))
            .group_by(v.poll_id, v.option)
        )
        found: dict[str, dict[int, int]] = {}
        for r in rows:
            found.setdefault(r.poll_id, {})[int(r.option)] = int(r.n)
        return found

    async def _attach_polls(self, conn: AsyncConnection, posts: Sequence[tuple[int, Post]]) -> None:
        """Give each post (by its row id) its poll, with the counts as they are now."""
        if not posts:
            return
        rows = (
            await conn.execute(t.polls.select().where(P.post_id.in_([rid for rid, _ in posts])))
        ).all()
        if not rows:
            return
        counts = await self._counts(conn, [r.id for r in rows])
        by_post = {r.post_id: _poll(r, counts.get(r.id, {})) for r in rows}
        for rid, post in posts:
            post.poll = by_post.get(rid)

    async def _restore_poll(
        self, conn: AsyncConnection, blog: Blog, post_row: int, poll: Poll
    ) -> None:
        """A poll from an archive, with its counts. Votes are kept as counts, not as voters: each
        becomes a row under a voter id that no browser has, so the counts stay exact and derived
        the same way; nothing is announced for them (readers of the restored blog see the counts
        in the page)."""
        now = utcnow()
        await conn.execute(
            t.polls.insert().values(
                id=poll.id,
                post_id=post_row,
                blog_id=blog.id,
                question=poll.question,
                options=[o.text for o in poll.options],
                closes_at=poll.closes_at,
                created_at=poll.created_at or now,
                votes=poll.total_votes,
                announced_votes=poll.total_votes,
                announced_at=now,
                final_announced=poll.closed(now),
            )
        )
        votes = (
            {"poll_id": poll.id, "voter": f"archived-{i}-{n}", "option": i}
            for i, option in enumerate(poll.options)
            for n in range(option.votes)
        )
        while batch := list(itertools.islice(votes, 5000)):  # never all in memory at once
            await conn.execute(t.poll_votes.insert(), batch)

    async def _save_poll(
        self,
        conn: AsyncConnection,
        blog_id: int,
        post_row: int,
        before: Poll | None,
        after: Poll | None,
        now: datetime,
    ) -> None:
        """Make the post's poll `after` (it was `before`), in the post's transaction. The
        newsroom decided on the poll as it was read; votes may have come in since (they do not
        lock the post), so each change is conditional and refused if they did."""
        if before is None and after is None:
            return
        if before is None or after is None or before.id != after.id:
            if before is not None:
                gone = await conn.execute(t.polls.delete().where(P.id == before.id, P.votes == 0))
                if gone.rowcount != 1:
                    raise _has_votes()
            if after is not None:
                await conn.execute(
                    t.polls.insert().values(
                        id=after.id,
                        post_id=post_row,
                        blog_id=blog_id,
                        question=after.question,
                        options=[o.text for o in after.options],
                        closes_at=after.closes_at,
                        created_at=after.created_at or now,
                        votes=0,
                        announced_votes=0,
                        final_announced=False,
                    )
                )
            return
        query = t.polls.update().where(P.id == after.id, P.final_announced.is_(False))
        texts = [o.text for o in after.options]
        if after.question != before.question or texts != [o.text for o in before.options]:
            query = query.where(P.votes == 0)
        changed = await conn.execute(
            query.values(question=after.question, options=texts, closes_at=after.closes_at)
        )
        if changed.rowcount != 1:
            raise Conflict(
                f"poll {after.id!r} has closed or has votes now: its question and options no "
                "longer change; reload the post to see it as it is"
            )

    async def cast_vote(
        self, blog_id: int, poll_id: str, voter: str, option: int, now: datetime
    ) -> Poll:
        """Count one vote; the poll with its counts just after. Refused (nothing written) when
        the poll is closed or unknown, or `voter` has voted in it already."""
        open_poll = (
            t.polls.update()
            .where(
                P.id == poll_id,
                P.blog_id == blog_id,
                P.closes_at > now,
                sa.exists(
                    sa.select(1)
                    .select_from(t.posts.join(t.blogs, t.blogs.c.id == t.posts.c.blog_id))
                    .where(
                        t.posts.c.id == P.post_id,
                        t.posts.c.status == PostStatus.PUBLISHED.value,
                        t.blogs.c.status == BlogStatus.LIVE.value,
                    )
                ),
            )
            .values(votes=P.votes + 1)
            .returning(P.options)
        )
        try:
            async with self.engines.writing() as conn:
                row = (await conn.execute(open_poll)).first()
                if row is None:
                    raise await self._refusal(conn, blog_id, poll_id, now)
                if not 0 <= option < len(row.options):
                    raise Invalid(
                        f"option must be a number from 0 to {len(row.options) - 1}", field="option"
                    )
                await conn.execute(
                    t.poll_votes.insert().values(poll_id=poll_id, voter=voter, option=option)
                )
        except IntegrityError:
            raise Conflict(
                "this browser has already voted in this poll; each browser votes once"
            ) from None
        return await self.get_poll(blog_id, poll_id)

    async def _refusal(
        self, conn: AsyncConnection, blog_id: int, poll_id: str, now: datetime
    ) -> Exception:
        """Why a vote was refused, read after the conditional write said no."""
        row = (
            await conn.execute(
                sa.select(P.closes_at, t.posts.c.status, t.blogs.c.status.label("blog_status"))
                .join(t.posts, t.posts.c.id == P.post_id)
                .join(t.blogs, t.blogs.c.id == P.blog_id)
                .where(P.id == poll_id, P.blog_id == blog_id)
            )
        ).first()
        if row is None or row.status != PostStatus.PUBLISHED.value:
            return NotFound(f"there is no poll {poll_id!r} in this blog")
        if row.blog_status != BlogStatus.LIVE.value:
            return Conflict("coverage of this blog has ended, so its polls take no more votes")
        return Conflict("this poll has closed; it takes no more votes")

    async def get_poll(self, blog_id: int, poll_id: str) -> Poll:
        async with self.engines.reading() as conn:
            row = (
                await conn.execute(t.polls.select().where(P.id == poll_id, P.blog_id == blog_id))
            ).first()
            if row is None:
                raise NotFound(f"there is no poll {poll_id!r} in this blog")
            counts = await self._counts(conn, [poll_id])
        return _poll(row, counts.get(poll_id, {}))

    async def polls_to_announce(self, now: datetime, gap: timedelta) -> list[str]:
        """Polls whose counts moved since readers were last told (or that closed and whose final
        result is not out yet), and whose last results event is at least `gap` old."""
        async with self.engines.reading() as conn:
            rows = await conn.execute(
                sa.select(P.id).where(*_announceable(now, gap)).order_by(P.id).limit(500)
            )
            return [str(r.id) for r in rows]

    async def announce_poll(
        self, poll_id: str, now: datetime, gap: timedelta, shape: Shape
    ) -> Event | None:
        """Claim the poll's results announcement and append its event, in one transaction. None
        when another node claimed it first, when nothing changed, or when its post is not
        published (then the claim is kept: readers have nothing to be told).

        The blog's row is locked before the poll's, as an edit of the post does (post, blog,
        then poll): the other way round, an announcement and an edit of the same poll deadlock
        on PostgreSQL, which fails one of them."""
        async with self.engines.writing() as conn:
            owner = (
                await conn.execute(sa.select(P.blog_id).where(P.id == poll_id))
            ).scalar_one_or_none()
            if owner is None:
                return None  # its post was deleted meanwhile
            blog = await self._blog_row(conn, t.blogs.c.id == owner, lock=True)
            assert blog is not None  # the poll's row holds its blog
            claimed = (
                await conn.execute(
                    t.polls.update()
                    .where(P.id == poll_id, *_announceable(now, gap))
                    .values(
                        announced_votes=P.votes,
                        announced_at=now,
                        final_announced=P.closes_at <= now,
                    )
                    .returning(P.post_id, P.blog_id)
                )
            ).first()
            if claimed is None:
                return None
            post_row = (
                await conn.execute(
                    sa.select(t.posts.c.public_id, t.posts.c.status).where(
                        t.posts.c.id == claimed.post_id
                    )
                )
            ).one()
            if post_row.status != PostStatus.PUBLISHED.value:
                return None
            # The results event carries the poll alone (shapes.event_payload).
            post = Post(blog.slug, id=str(post_row.public_id), status=PostStatus.PUBLISHED)
            await self._attach_polls(conn, [(claimed.post_id, post)])
            # A vote count is not news: the blog's "updated" time stays.
            await self._next_seq(conn, blog, count_delta=0, at=now, touch=False)
            return await self._log(conn, blog, EventType.POLL_RESULTS, post, shape, at=now)


def _announceable(now: datetime, gap: timedelta) -> list[Any]:
    return [
        sa.or_(P.announced_at.is_(None), P.announced_at <= now - gap),
        sa.or_(
            P.votes != P.announced_votes,
            sa.and_(P.final_announced.is_(False), P.closes_at <= now),
        ),
    ]


def _has_votes() -> Conflict:
    return Conflict(
        "this poll has votes now, so it cannot be replaced or removed; only its closing time "
        "can change (or close it now)"
    )
