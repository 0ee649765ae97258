"""Web push: the followers of each blog, and the notifications on their way to them.

A follower is a push subscription for one blog: the push service's endpoint and the browser's
keys (p256dh, auth), nothing else. Web push reads each followed blog's event log from where it
last stopped (`push_blogs.seen_seq`, set to the blog's seq when its first follower came, so a new
follower hears only of what comes next). One transaction turns the events since into at most one
message (what the events mean is decided by dateline/outbound/push.py, handed the blog's place
and its events inside the transaction: at most one notification per gap, the newest news
replacing older news still waiting, the last notice when coverage ended); each message gets a
delivery per follower. Of several nodes, the one whose conditional UPDATE moves `seen_seq` does
it; the others find nothing to do.

Deliveries are claimed with a lease (their `next_at` moved past now in the claiming UPDATE), so
two nodes never send the same one at once, and a node that dies mid-send leaves it to be sent
again after the lease: at least once. A delivery that failed is put off (`retry`); one that
succeeded, or was given up, is removed (`done`); a follower whose push service says it is gone is
removed with its deliveries (`gone`). After the last notice, each follower is removed."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dateline.errors import Conflict, NotFound
from dateline.model import Blog, BlogStatus, EventType, Post
from dateline.store import schema as t
from dateline.store.blogs import BlogRows
from dateline.store.posts import POSTS

S = t.push_subscriptions.c
B = t.push_blogs.c
M = t.push_messages.c
D = t.push_deliveries.c
# The notification's JSON for a post of the blog, or (None) for the end of its coverage; None when
# the post is not to be notified after all. Made by whoever knows URLs (dateline/outbound/),
# called inside the transaction.
Message = Callable[[Blog, Post | None], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class PushPlace:
    """Where web push stands in a blog's log: the post waiting for the gap, and when the last
    notification of the blog was made."""

    pending_post: str | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class PushEvent:
    """An event of the blog since web push last looked, with its post's `notify` as it is now."""

    type: EventType
    post_id: str | None
    notify: bool


@dataclass(frozen=True, slots=True)
class PushStep:
    """What to do with the events since: send a notification of `send_post` now, or the last
    notice (`final`), and which post waits for the gap (`pending_post`)."""

    pending_post: str | None = None
    send_post: str | None = None
    final: bool = False


# The rules (dateline/outbound/push.py): what the events since mean, given where it stood.
Decide = Callable[[PushPlace, list[PushEvent]], PushStep]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message on its way to one follower, as claimed for sending."""

    id: int
    message_id: int
    subscription_id: int
    blog_id: int
    endpoint: str
    p256dh: str
    auth: str
    payload: bytes
    final: bool
    attempts: int


class _Lost(Exception):
    """Another node moved the blog's place in its log first: roll this transaction back."""


class PushRows(BlogRows):
    # -- followers -------------------------------------------------------------------------

    async def follow(
        self, blog: Blog, endpoint: str, p256dh: str, auth: str, now: datetime
    ) -> bool:
        """Make `endpoint` a follower of the blog (True), or renew its keys if it is one (False).
        Refused unless the blog is live; decided on the blog's row, locked, so a follow racing
        the end of coverage either gets the last notice or is refused."""
        async with self.engines.writing() as conn:
            locked = await self._blog_row(conn, t.blogs.c.id == blog.id, lock=True)
            if locked is None:
                raise NotFound(f"there is no blog {blog.slug!r}")
            if locked.status is not BlogStatus.LIVE:
                raise Conflict(
                    f"blog {blog.slug!r} is not live, so it has nothing to notify followers of"
                )
            place = await conn.scalar(sa.select(B.seen_seq).where(B.blog_id == locked.id))
            if place is None:
                await conn.execute(
                    t.push_blogs.insert().values(blog_id=locked.id, seen_seq=locked.last_seq)
                )
            renewed = await conn.execute(
                t.push_subscriptions.update()
                .where(S.blog_id == locked.id, S.endpoint == endpoint)
                .values(p256dh=p256dh, auth=auth)
            )
            if renewed.rowcount:
                return False
            await conn.execute(
                t.push_subscriptions.insert().values(
                    blog_id=locked.id, endpoint=endpoint, p256dh=p256dh, auth=auth, created_at=now
                )
            )
        return True

    async def unfollow(self, blog_id: int, endpoint: str) -> bool:
        """Remove the follower (and what was still on its way to it); False if it was none."""
        async with self.engines.writing() as conn:
            gone = await conn.execute(
                t.push_subscriptions.delete().where(S.blog_id == blog_id, S.endpoint == endpoint)
            )
        return bool(gone.rowcount)

    async def followers(self, blog_id: int) -> int:
        async with self.engines.reading() as conn:
            found = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(t.push_subscriptions)
                .where(S.blog_id == blog_id)
            )
        return int(found or 0)

    # -- from the event log to messages ----------------------------------------------------

    async def push_blogs_due(self, now: datetime, gap: timedelta) -> list[int]:
        """Followed blogs whose log moved on since it was read, or whose waiting post's gap has
        passed."""
        async with self.engines.reading() as conn:
            rows = await conn.execute(
                sa.select(B.blog_id)
                .join(t.blogs, t.blogs.c.id == B.blog_id)
                .where(
                    sa.or_(
                        t.blogs.c.last_seq > B.seen_seq,
                        sa.and_(
                            B.pending_post.is_not(None),
                            sa.or_(B.sent_at.is_(None), B.sent_at <= now - gap),
                        ),
                    )
                )
                .order_by(B.blog_id)
            )
            return [int(r.blog_id) for r in rows]

    async def read_push_log(
        self,
        blog_id: int,
        now: datetime,
        watched: tuple[EventType, ...],
        decide: Decide,
        message: Message,
    ) -> int | None:
        """Hand the blog's `watched` events since web push last looked to `decide`, and carry out
        its step: at most one message, with a delivery per follower; the message's id, or None.
        Safe on every node at once."""
        try:
            async with self.engines.writing() as conn:
                return await self._read_push_log(conn, blog_id, now, watched, decide, message)
        except _Lost:
            return None

    async def _read_push_log(
        self,
        conn: AsyncConnection,
        blog_id: int,
        now: datetime,
        watched: tuple[EventType, ...],
        decide: Decide,
        message: Message,
    ) -> int | None:
        place = (
            await conn.execute(
                sa.select(t.push_blogs).where(B.blog_id == blog_id).with_for_update()
            )
        ).first()
        if place is None:
            return None
        blog = await self._blog_row(conn, t.blogs.c.id == blog_id)
        assert blog is not None  # the row holds its blog
        e = t.events.c
        rows = await conn.execute(
            sa.select(e.seq, e.type, e.post_id)
            .where(
                e.blog_id == blog_id,
                e.seq > place.seen_seq,
                e.seq <= blog.last_seq,
                e.type.in_([w.value for w in watched]),
            )
            .order_by(e.seq)
        )
        events = [
            PushEvent(EventType(r.type), r.post_id, await self._notifies(conn, blog_id, r.post_id))
            for r in rows.all()
        ]
        step = decide(PushPlace(place.pending_post, place.sent_at), events)
        moved = t.push_blogs.update().where(B.blog_id == blog_id, B.seen_seq == place.seen_seq)
        if step.final:
            final = message(blog, None)
            made = await self._message(conn, blog, final, now, final=True) if final else None
            # Its followers are removed as the last notice reaches each; a new follower after a
            # reopening starts a new place in the log.
            if (await conn.execute(moved.values(seen_seq=blog.last_seq))).rowcount != 1:
                raise _Lost
            await conn.execute(t.push_blogs.delete().where(B.blog_id == blog_id))
            return made
        sent_at = place.sent_at
        made = None
        if step.send_post is not None:
            post = await self._post(conn, blog, step.send_post)
            payload = message(blog, post) if post is not None else None
            if payload is not None:
                made = await self._message(conn, blog, payload, now, final=False)
                sent_at = now if made is not None else sent_at
        values = {"seen_seq": blog.last_seq, "pending_post": step.pending_post, "sent_at": sent_at}
        if (await conn.execute(moved.values(**values))).rowcount != 1:
            raise _Lost
        return made

    async def _notifies(self, conn: AsyncConnection, blog_id: int, post_id: str | None) -> bool:
        if post_id is None:
            return False
        p = t.posts.c
        query = sa.select(p.notify).where(p.blog_id == blog_id, p.public_id == post_id)
        return bool(await conn.scalar(query))

    async def _post(self, conn: AsyncConnection, blog: Blog, post_id: str) -> Post | None:
        p = t.posts.c
        query = t.posts.select().where(p.blog_id == blog.id, p.public_id == post_id)
        row = (await conn.execute(query)).first()
        return POSTS.read(row._mapping, blog_slug=blog.slug) if row is not None else None

    async def _message(
        self,
        conn: AsyncConnection,
        blog: Blog,
        payload: dict[str, Any],
        now: datetime,
        *,
        final: bool,
    ) -> int | None:
        """A message with a delivery to each of the blog's followers; None if it has none."""
        followers = [
            int(r.id) for r in await conn.execute(sa.select(S.id).where(S.blog_id == blog.id))
        ]
        if not followers:
            return None
        result = await conn.execute(
            t.push_messages.insert()
            .values(
                blog_id=blog.id,
                payload=json.dumps(payload, ensure_ascii=False),
                final=final,
                created_at=now,
            )
            .returning(M.id)
        )
        message_id = int(result.scalar_one())
        await conn.execute(
            t.push_deliveries.insert(),
            [
                {"message_id": message_id, "subscription_id": s, "attempts": 0, "next_at": now}
                for s in followers
            ],
        )
        return message_id

    # -- deliveries ------------------------------------------------------------------------

    async def claim_deliveries(self, now: datetime, lease: timedelta, limit: int) -> list[Delivery]:
        """Up to `limit` deliveries that are due, oldest message first, each now this caller's
        until `now + lease` (another node skips them meanwhile)."""
        due = (
            sa.select(D.id)
            .where(D.next_at <= now)
            .order_by(D.message_id, D.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self.engines.writing() as conn:
            claimed = await conn.execute(
                t.push_deliveries.update()
                .where(D.id.in_(due.scalar_subquery()), D.next_at <= now)
                .values(next_at=now + lease)
                .returning(D.id)
            )
            ids = [int(r.id) for r in claimed]
            if not ids:
                return []
            rows = await conn.execute(
                sa.select(
                    D.id,
                    D.message_id,
                    D.subscription_id,
                    D.attempts,
                    S.blog_id,
                    S.endpoint,
                    S.p256dh,
                    S.auth,
                    M.payload,
                    M.final,
                )
                .join(t.push_subscriptions, S.id == D.subscription_id)
                .join(t.push_messages, M.id == D.message_id)
                .where(D.id.in_(ids))
                .order_by(D.message_id, D.id)
            )
            return [
                Delivery(
                    id=int(r.id),
                    message_id=int(r.message_id),
                    subscription_id=int(r.subscription_id),
                    blog_id=int(r.blog_id),
                    endpoint=str(r.endpoint),
                    p256dh=str(r.p256dh),
                    auth=str(r.auth),
                    payload=str(r.payload).encode(),
                    final=bool(r.final),
                    attempts=int(r.attempts),
                )
                for r in rows
            ]

    async def done(self, delivery: Delivery) -> None:
        """The delivery was sent (or given up): remove it, and, after a last notice, the
        follower too."""
        async with self.engines.writing() as conn:
            if delivery.final:
                await conn.execute(
                    t.push_subscriptions.delete().where(S.id == delivery.subscription_id)
                )
            else:
                await conn.execute(t.push_deliveries.delete().where(D.id == delivery.id))
            await self._drop_if_delivered(conn, delivery.message_id)

    async def gone(self, delivery: Delivery) -> None:
        """The push service says the subscription has expired or was withdrawn: remove the
        follower and everything still on its way to it."""
        async with self.engines.writing() as conn:
            await conn.execute(
                t.push_subscriptions.delete().where(S.id == delivery.subscription_id)
            )
            await self._drop_if_delivered(conn, delivery.message_id)

    async def retry(self, delivery: Delivery, at: datetime) -> None:
        """Try the delivery again at `at` (one more attempt counted)."""
        async with self.engines.writing() as conn:
            await conn.execute(
                t.push_deliveries.update()
                .where(D.id == delivery.id, D.attempts == delivery.attempts)
                .values(attempts=delivery.attempts + 1, next_at=at)
            )

    async def _drop_if_delivered(self, conn: AsyncConnection, message_id: int) -> None:
        left = sa.exists(sa.select(1).where(D.message_id == message_id))
        await conn.execute(t.push_messages.delete().where(M.id == message_id, ~left))

    async def push_messages_left(self, blog_id: int) -> int:
        """Messages of the blog not yet delivered to every follower."""
        async with self.engines.reading() as conn:
            found = await conn.scalar(
                sa.select(sa.func.count()).select_from(t.push_messages).where(M.blog_id == blog_id)
            )
        return int(found or 0)
