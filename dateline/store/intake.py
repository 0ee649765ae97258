"""The store's side of reporter inputs: one-time pairing codes, pairings of platform identities
with users, the platform messages received (by the platform's own id, so a retried delivery is
recognised), chat channels linked to blogs, and what an editor's message does in each blog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from dateline.errors import Conflict
from dateline.store import schema as t
from dateline.store.rows import Rows, utcnow

# How long a message may stay claimed before a redelivery takes it over: longer than any handling
# takes (its calls to the platform are bounded by intake_timeout_seconds), shorter than the
# platforms' retries last (Slack's last retry comes 5 minutes after the first delivery).
STALE_CLAIM = timedelta(minutes=3)


@dataclass(frozen=True, slots=True)
class Pairing:
    """A platform identity paired with a Dateline user (live unless `revoked_at`)."""

    id: int
    platform: str
    identity: str
    label: str
    user_id: int
    blog_id: int | None
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Received:
    """A platform message as it was received and what became of it: `status` is "claimed"
    (being turned into a post), "done" (`post_id` is the post) or "failed" (`note` says why)."""

    platform: str
    message_id: str
    user_id: int | None
    blog_id: int | None
    post_id: str | None
    status: str
    note: str | None
    reply_ref: str | None
    auth: dict[str, Any] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LinkedChannel:
    platform: str
    channel: str
    blog_id: int
    created_at: datetime


def _pairing(row: Any) -> Pairing:
    m = row._mapping
    return Pairing(
        m["id"],
        m["platform"],
        m["identity"],
        m["label"],
        m["user_id"],
        m["blog_id"],
        m["created_at"],
        m["revoked_at"],
    )


def _received(row: Any) -> Received:
    m = row._mapping
    return Received(**{name: m[name] for name in Received.__slots__})


class IntakeRows(Rows):
    # -- pairing codes and pairings ----------------------------------------------------------

    async def add_pairing_code(
        self, code_hash: str, user_id: int, platform: str, expires_at: datetime
    ) -> None:
        now = utcnow()
        c = t.intake_codes.c
        async with self.engines.writing() as conn:
            # Spent and expired codes are swept as new ones are made: no clean-up job.
            await conn.execute(
                t.intake_codes.delete().where(sa.or_(c.expires_at < now, c.used_at.is_not(None)))
            )
            await conn.execute(
                t.intake_codes.insert().values(
                    code_hash=code_hash,
                    user_id=user_id,
                    platform=platform,
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    async def redeem_code(
        self, code_hash: str, platform: str, identity: str, label: str
    ) -> int | None:
        """Spend the code and pair `identity` with its user, in one transaction; the user's id,
        or None if the code is unknown, spent, expired or for another platform. An identity
        paired with someone else is refused (Conflict) and the code stays unspent."""
        now = utcnow()
        c, p = t.intake_codes.c, t.intake_pairings.c
        async with self.engines.writing() as conn:
            user_id = await conn.scalar(
                t.intake_codes.update()
                .where(
                    c.code_hash == code_hash,
                    c.platform == platform,
                    c.used_at.is_(None),
                    c.expires_at > now,
                )
                .values(used_at=now)
                .returning(c.user_id)
            )
            if user_id is None:
                return None
            found = (
                await conn.execute(
                    sa.select(p.id, p.user_id, p.revoked_at)
                    .where(p.platform == platform, p.identity == identity)
                    .with_for_update()
                )
            ).first()
            if found is not None and found.revoked_at is None and found.user_id != user_id:
                raise Conflict(
                    "this account is already paired with another Dateline user; they must "
                    "revoke that pairing in the console (Reporter inputs) first"
                )
            values = {"user_id": user_id, "label": label[:200], "created_at": now}
            try:
                if found is None:
                    await conn.execute(
                        t.intake_pairings.insert().values(
                            platform=platform, identity=identity, **values
                        )
                    )
                else:
                    keep_blog = found.user_id == user_id and found.revoked_at is None
                    await conn.execute(
                        t.intake_pairings.update()
                        .where(p.id == found.id)
                        .values(
                            revoked_at=None,
                            **values,
                            **({} if keep_blog else {"blog_id": None}),
                        )
                    )
            except IntegrityError as exc:  # paired by a concurrent request just now
                raise Conflict("this account was paired just now; try again") from exc
        return int(user_id)

    async def pairing_for(self, platform: str, identity: str) -> Pairing | None:
        """The live pairing of `identity` with an active user, if there is one."""
        p = t.intake_pairings.c
        query = (
            sa.select(t.intake_pairings)
            .join(t.users, t.users.c.id == p.user_id)
            .where(
                p.platform == platform,
                p.identity == identity,
                p.revoked_at.is_(None),
                t.users.c.deactivated_at.is_(None),
            )
        )
        async with self.engines.reading() as conn:
            row = (await conn.execute(query)).first()
        return _pairing(row) if row is not None else None

    async def list_pairings(self, user_id: int) -> list[Pairing]:
        p = t.intake_pairings.c
        query = (
            sa.select(t.intake_pairings)
            .where(p.user_id == user_id, p.revoked_at.is_(None))
            .order_by(p.platform, p.created_at)
        )
        async with self.engines.reading() as conn:
            return [_pairing(r) for r in await conn.execute(query)]

    async def revoke_pairing(self, user_id: int, pairing_id: int) -> bool:
        """Revoke one of `user_id`'s live pairings; False if it is not theirs or not live."""
        p = t.intake_pairings.c
        async with self.engines.writing() as conn:
            result = await conn.execute(
                t.intake_pairings.update()
                .where(p.id == pairing_id, p.user_id == user_id, p.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        return bool(result.rowcount)

    async def set_pairing_blog(self, pairing_id: int, user_id: int, blog_id: int) -> bool:
        p = t.intake_pairings.c
        async with self.engines.writing() as conn:
            result = await conn.execute(
                t.intake_pairings.update()
                .where(p.id == pairing_id, p.user_id == user_id, p.revoked_at.is_(None))
                .values(blog_id=blog_id)
            )
        return bool(result.rowcount)

    # -- messages received -------------------------------------------------------------------

    async def claim_message(
        self,
        platform: str,
        message_id: str,
        *,
        user_id: int,
        blog_id: int | None,
        auth: dict[str, Any] | None = None,
    ) -> Received | None:
        """Record that the message is being handled; None if this is its first delivery, else
        the record of the earlier one (the primary key refuses a second claim, so of two
        concurrent deliveries exactly one proceeds)."""
        try:
            async with self.engines.writing() as conn:
                await conn.execute(
                    t.intake_messages.insert().values(
                        platform=platform,
                        message_id=message_id,
                        user_id=user_id,
                        blog_id=blog_id,
                        status="claimed",
                        auth=auth,
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            if await self._take_over_stale_claim(platform, message_id, user_id, blog_id, auth):
                return None
            found = await self.received(platform, message_id)
            assert found is not None
            return found
        return None

    async def _take_over_stale_claim(
        self,
        platform: str,
        message_id: str,
        user_id: int,
        blog_id: int | None,
        auth: dict[str, Any] | None,
    ) -> bool:
        """A claim older than `STALE_CLAIM` whose message was never settled belongs to a handler
        that died (the process was killed, the machine lost): the platform's retry takes it
        over, so that a message it was told nothing definite about is not lost. Conditional, so
        of two retries one proceeds."""
        m = t.intake_messages.c
        now = utcnow()
        async with self.engines.writing() as conn:
            taken = await conn.execute(
                t.intake_messages.update()
                .where(
                    m.platform == platform,
                    m.message_id == message_id,
                    m.status == "claimed",
                    m.created_at < now - STALE_CLAIM,
                )
                .values(created_at=now, user_id=user_id, blog_id=blog_id, auth=auth)
            )
        return taken.rowcount == 1

    async def received(self, platform: str, message_id: str) -> Received | None:
        m = t.intake_messages.c
        query = t.intake_messages.select().where(m.platform == platform, m.message_id == message_id)
        async with self.engines.reading() as conn:
            row = (await conn.execute(query)).first()
        return _received(row) if row is not None else None

    async def settle_message(
        self,
        platform: str,
        message_id: str,
        *,
        status: str,
        post_id: str | None = None,
        note: str | None = None,
    ) -> None:
        """Say what became of a claimed message (only a claimed one: a settled record stays)."""
        m = t.intake_messages.c
        async with self.engines.writing() as conn:
            await conn.execute(
                t.intake_messages.update()
                .where(m.platform == platform, m.message_id == message_id, m.status == "claimed")
                .values(status=status, post_id=post_id, note=note)
            )

    async def release_message(self, platform: str, message_id: str) -> None:
        """Forget a claim whose handling failed for a passing reason (the database, the
        platform's file server), so that the platform's retry is handled afresh."""
        m = t.intake_messages.c
        async with self.engines.writing() as conn:
            await conn.execute(
                t.intake_messages.delete().where(
                    m.platform == platform, m.message_id == message_id, m.status == "claimed"
                )
            )

    async def set_reply_ref(self, platform: str, message_id: str, reply_ref: str) -> None:
        m = t.intake_messages.c
        async with self.engines.writing() as conn:
            await conn.execute(
                t.intake_messages.update()
                .where(m.platform == platform, m.message_id == message_id)
                .values(reply_ref=reply_ref)
            )

    async def message_by_reply(self, platform: str, reply_ref: str) -> Received | None:
        """The message whose confirmation (the bot's answer) is `reply_ref`."""
        m = t.intake_messages.c
        query = t.intake_messages.select().where(
            m.platform == platform, m.reply_ref == reply_ref, m.status == "done"
        )
        async with self.engines.reading() as conn:
            row = (await conn.execute(query)).first()
        return _received(row) if row is not None else None

    # -- channels linked to blogs, and blogs' modes ------------------------------------------

    async def link_channel(
        self, platform: str, channel: str, blog_id: int, user_id: int | None
    ) -> None:
        ch = t.intake_channels.c
        async with self.engines.writing() as conn:
            await conn.execute(
                t.intake_channels.delete().where(ch.platform == platform, ch.channel == channel)
            )
            await conn.execute(
                t.intake_channels.insert().values(
                    platform=platform,
                    channel=channel,
                    blog_id=blog_id,
                    linked_by=user_id,
                    created_at=utcnow(),
                )
            )

    async def unlink_channel(self, platform: str, channel: str) -> bool:
        ch = t.intake_channels.c
        async with self.engines.writing() as conn:
            result = await conn.execute(
                t.intake_channels.delete().where(ch.platform == platform, ch.channel == channel)
            )
        return bool(result.rowcount)

    async def channel_blog(self, platform: str, channel: str) -> int | None:
        ch = t.intake_channels.c
        query = sa.select(ch.blog_id).where(ch.platform == platform, ch.channel == channel)
        async with self.engines.reading() as conn:
            found = await conn.scalar(query)
        return int(found) if found is not None else None

    async def linked_channels(self, blog_id: int) -> list[LinkedChannel]:
        ch = t.intake_channels.c
        query = (
            sa.select(ch.platform, ch.channel, ch.blog_id, ch.created_at)
            .where(ch.blog_id == blog_id)
            .order_by(ch.created_at)
        )
        async with self.engines.reading() as conn:
            return [LinkedChannel(*r) for r in await conn.execute(query)]

    async def editor_posts(self, blog_id: int) -> str:
        """What an editor's message does in the blog: "publish" (the default) or "draft"."""
        b = t.intake_blogs.c
        async with self.engines.reading() as conn:
            found = await conn.scalar(sa.select(b.editor_posts).where(b.blog_id == blog_id))
        return str(found) if found is not None else "publish"

    async def set_editor_posts(self, blog_id: int, mode: str) -> None:
        b = t.intake_blogs.c
        async with self.engines.writing() as conn:
            await conn.execute(t.intake_blogs.delete().where(b.blog_id == blog_id))
            await conn.execute(t.intake_blogs.insert().values(blog_id=blog_id, editor_posts=mode))


__all__ = ["IntakeRows", "LinkedChannel", "Pairing", "Received"]
