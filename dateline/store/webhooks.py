"""Signed webhooks: the URLs each blog's events are delivered to, their cursors and leases, and
the log of their last delivery attempts.

Delivery is at least once and in seq order because the cursor (the last seq a URL answered 2xx
to) moves only forward, only by the node holding the webhook's lease, and only after the answer.
A node takes the lease with a conditional UPDATE (the webhook is active, due, and its lease free
or run out), so two nodes never deliver to one URL at once; a node that dies keeps it only until
`lease_until`. Every change below is one conditional statement, checked by its row count."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dateline.errors import Conflict, NotFound
from dateline.model import Delivery, Webhook, WebhookState
from dateline.store import schema as t
from dateline.store.rows import RowCodec, Rows, new_id

W = t.webhooks.c
D = t.webhook_deliveries.c
WEBHOOKS = RowCodec(Webhook, t.webhooks)
DELIVERIES = RowCodec(Delivery, t.webhook_deliveries)

# More URLs per blog than this is a mistake (each gets every event), not a use.
MAX_PER_BLOG = 20


def _not_found(webhook_id: int) -> NotFound:
    return NotFound(f"this blog has no webhook #{webhook_id}; list them at …/webhooks")


class WebhookRows(Rows):
    # -- what editors do (through the newsroom) ---------------------------------------------------

    async def add_webhook(self, webhook: Webhook, *, creator: int | None, now: datetime) -> Webhook:
        """Register `webhook`; it receives the blog's events from its current seq on."""
        async with self.engines.writing() as conn:
            # Locking the blog's row orders this against the blog's writers: an event committed
            # before is not sent, one committed after is.
            last = (
                await conn.execute(
                    sa.select(t.blogs.c.last_seq)
                    .where(t.blogs.c.id == webhook.blog_id)
                    .with_for_update()
                )
            ).scalar_one()
            count = await conn.scalar(
                sa.select(sa.func.count()).where(W.blog_id == webhook.blog_id)
            )
            if (count or 0) >= MAX_PER_BLOG:
                raise Conflict(
                    f"this blog has {MAX_PER_BLOG} webhooks, the most it may have; delete one "
                    "it no longer needs first"
                )
            webhook.cursor = int(last)
            webhook.state = WebhookState.ACTIVE
            webhook.next_attempt_at = now
            webhook.created_at = now
            values = WEBHOOKS.values(webhook, without=("id",))
            result = await conn.execute(t.webhooks.insert().values(**values, created_by=creator))
            webhook.id = new_id(result)
        return webhook

    async def list_webhooks(self, blog_id: int) -> list[Webhook]:
        async with self.engines.reading() as conn:
            rows = await conn.execute(
                t.webhooks.select().where(W.blog_id == blog_id).order_by(W.id)
            )
            return [WEBHOOKS.read(r._mapping) for r in rows]

    async def get_webhook(self, blog_id: int, webhook_id: int) -> Webhook:
        async with self.engines.reading() as conn:
            return await self._webhook(conn, blog_id, webhook_id)

    async def _webhook(self, conn: AsyncConnection, blog_id: int, webhook_id: int) -> Webhook:
        row = (
            await conn.execute(t.webhooks.select().where(W.id == webhook_id, W.blog_id == blog_id))
        ).first()
        if row is None:
            raise _not_found(webhook_id)
        return WEBHOOKS.read(row._mapping)

    async def set_webhook_state(
        self, blog_id: int, webhook_id: int, state: WebhookState, *, now: datetime, reason: str
    ) -> Webhook:
        """Pause (`reason` is shown) or resume a webhook. Resuming starts its retries afresh
        and goes on from its cursor: nothing committed meanwhile is skipped. Asking for the
        state it is in changes nothing."""
        values: dict[str, Any]
        if state is WebhookState.PAUSED:
            values = {"state": state.value, "paused_reason": reason}
        else:
            values = {
                "state": state.value,
                "paused_reason": None,
                "attempts": 0,
                "failing_since": None,
                "next_attempt_at": now,
            }
        async with self.engines.writing() as conn:
            await conn.execute(
                t.webhooks.update()
                .where(W.id == webhook_id, W.blog_id == blog_id, W.state != state.value)
                .values(**values)
            )
            return await self._webhook(conn, blog_id, webhook_id)

    async def delete_webhook(self, blog_id: int, webhook_id: int) -> None:
        async with self.engines.writing() as conn:
            gone = await conn.execute(
                t.webhooks.delete().where(W.id == webhook_id, W.blog_id == blog_id)
            )
            if gone.rowcount != 1:
                raise _not_found(webhook_id)

    async def deliveries(self, webhook_id: int, *, limit: int = 100) -> list[Delivery]:
        """The last attempts, newest first."""
        async with self.engines.reading() as conn:
            rows = await conn.execute(
                t.webhook_deliveries.select()
                .where(D.webhook_id == webhook_id)
                .order_by(D.id.desc())
                .limit(limit)
            )
            return [DELIVERIES.read(r._mapping) for r in rows]

    # -- what the delivery rounds do (outbound/webhooks.py) ---------------------------------------

    @staticmethod
    def _due(now: datetime) -> list[Any]:
        return [
            W.state == WebhookState.ACTIVE.value,
            W.next_attempt_at <= now,
            sa.or_(W.lease_until.is_(None), W.lease_until <= now),
            W.cursor
            < sa.select(t.blogs.c.last_seq).where(t.blogs.c.id == W.blog_id).scalar_subquery(),
        ]

    async def due_webhooks(self, now: datetime, *, limit: int = 100) -> list[int]:
        """Webhooks with events to send, whose next attempt is due and whose lease is free."""
        async with self.engines.reading() as conn:
            rows = await conn.execute(
                sa.select(W.id).where(*self._due(now)).order_by(W.next_attempt_at).limit(limit)
            )
            return [int(r.id) for r in rows]

    async def claim_webhook(
        self, webhook_id: int, token: str, *, now: datetime, lease: timedelta
    ) -> Webhook | None:
        """Take the webhook's lease for `token` (None: another node has it, or it is not due)."""
        async with self.engines.writing() as conn:
            claimed = await conn.execute(
                t.webhooks.update()
                .where(W.id == webhook_id, *self._due(now))
                .values(leased_by=token, lease_until=now + lease)
            )
            if claimed.rowcount != 1:
                return None
            row = (await conn.execute(t.webhooks.select().where(W.id == webhook_id))).one()
            return WEBHOOKS.read(row._mapping)

    async def delivered(
        self,
        webhook_id: int,
        token: str,
        attempt: Delivery,
        *,
        lease: timedelta,
        keep: int,
    ) -> bool:
        """Move the cursor to `attempt.seq` (answered 2xx) and renew the lease. False when the
        lease is lost, or the webhook was paused or deleted meanwhile: stop sending then."""
        async with self.engines.writing() as conn:
            moved = (
                await conn.execute(
                    t.webhooks.update()
                    .where(W.id == webhook_id, W.leased_by == token, W.cursor < attempt.seq)
                    .values(
                        cursor=attempt.seq,
                        attempts=0,
                        failing_since=None,
                        last_error=None,
                        lease_until=attempt.at + lease,
                    )
                    .returning(W.state)
                )
            ).first()
            if moved is None:
                return False
            await self._record(conn, webhook_id, attempt, keep)
            return bool(moved.state == WebhookState.ACTIVE.value)

    async def failed(
        self,
        webhook_id: int,
        token: str,
        attempt: Delivery,
        *,
        retry_at: datetime,
        pause: str | None,
        keep: int,
    ) -> None:
        """Record a failed attempt, set the next one, give the lease back; `pause`: the
        retries are over, pause the webhook with this reason."""
        values: dict[str, Any] = {
            "attempts": W.attempts + 1,
            "failing_since": sa.func.coalesce(W.failing_since, attempt.at),
            "last_error": attempt.error,
            "next_attempt_at": retry_at,
            "leased_by": None,
            "lease_until": None,
        }
        if pause is not None:
            values.update(state=WebhookState.PAUSED.value, paused_reason=pause)
        async with self.engines.writing() as conn:
            changed = await conn.execute(
                t.webhooks.update().where(W.id == webhook_id, W.leased_by == token).values(**values)
            )
            if changed.rowcount == 1:
                await self._record(conn, webhook_id, attempt, keep)

    async def release_webhook(self, webhook_id: int, token: str) -> None:
        """Give the lease back (this node stops, or has sent all there was)."""
        async with self.engines.writing() as conn:
            await conn.execute(
                t.webhooks.update()
                .where(W.id == webhook_id, W.leased_by == token)
                .values(leased_by=None, lease_until=None)
            )

    async def _record(
        self, conn: AsyncConnection, webhook_id: int, attempt: Delivery, keep: int
    ) -> None:
        """Log an attempt, and drop the ones older than the last `keep`."""
        await conn.execute(
            t.webhook_deliveries.insert().values(
                webhook_id=webhook_id, **DELIVERIES.values(attempt)
            )
        )
        oldest_kept = (
            sa.select(D.id)
            .where(D.webhook_id == webhook_id)
            .order_by(D.id.desc())
            .offset(keep - 1)
            .limit(1)
            .scalar_subquery()
        )
        await conn.execute(
            t.webhook_deliveries.delete().where(D.webhook_id == webhook_id, D.id < oldest_kept)
        )
