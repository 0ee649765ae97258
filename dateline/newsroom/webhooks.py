"""Signed webhooks, as editors manage them: register a URL for a blog (Dateline makes its
secret, shown once), list them with their delivery logs, pause, resume, delete. Editors of the
blog and admins only (permissions.py). The deliveries themselves are dateline/outbound/.

A webhook's URL is chosen by whoever holds an editor's account, so it is treated as hostile
(docs/security.md): https only, to a public address, checked here when it is registered and
again at every delivery (a DNS answer may change); plain http and private addresses only for
the hosts the operator lists in `webhook_allowed_hosts`."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from dateline.config import Settings
from dateline.embeds.fetch import FetchFailed, Guard, pinned
from dateline.errors import Invalid
from dateline.model import Blog, Delivery, User, Webhook, WebhookState
from dateline.newsroom.cases import Cases, parse
from dateline.newsroom.inputs import WebhookCreate, WebhookPatch
from dateline.newsroom.permissions import Action
from dateline.render import rfc3339


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """`webhook_allowed_hosts` as a set of "host:port"."""
    return frozenset(
        h.strip().lower() for h in settings.webhook_allowed_hosts.split(",") if h.strip()
    )


def guard(settings: Settings) -> Guard:
    return Guard(timeout=settings.webhook_timeout_seconds, trusted=allowed_hosts(settings))


async def check_url(url: str, settings: Settings) -> str:
    """`url` if webhooks may be sent there, else Invalid saying why and what would do."""
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise Invalid(f"{url[:200]!r} is not a URL", field="url") from None
    if scheme not in ("https", "http") or not host:
        raise Invalid("a webhook URL starts with https://", field="url")
    if parts.username is not None or parts.password is not None:
        raise Invalid(
            "a webhook URL may not carry a user name or password (they would show in the "
            "console); check the signature instead, or put a token in the path",
            field="url",
        )
    trusted = f"{host}:{port}" in allowed_hosts(settings)
    if scheme == "http" and not trusted:
        raise Invalid(
            "webhooks are sent over https only (plain http only to the hosts an operator "
            "lists in webhook_allowed_hosts); use an https:// URL",
            field="url",
        )
    try:
        await pinned(url, guard(settings))
    except FetchFailed as exc:
        raise Invalid(
            f"{exc}; webhooks are sent to public addresses only (an operator may allow a host "
            "on a private network with webhook_allowed_hosts)",
            field="url",
        ) from None
    return url


def webhook_json(webhook: Webhook, blog: Blog) -> dict[str, Any]:
    """A webhook as the API shows it (never its secret, which is shown once, when made)."""
    return {
        "id": webhook.id,
        "url": webhook.url,
        "state": webhook.state.value,
        "delivered_seq": webhook.cursor,
        "pending": max(0, blog.last_seq - webhook.cursor),
        "attempts": webhook.attempts,
        "next_attempt_at": rfc3339(webhook.next_attempt_at) if webhook.next_attempt_at else None,
        "failing_since": rfc3339(webhook.failing_since) if webhook.failing_since else None,
        "last_error": webhook.last_error,
        "paused_reason": webhook.paused_reason,
        "created_at": rfc3339(webhook.created_at) if webhook.created_at else None,
    }


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "seq": delivery.seq,
        "at": rfc3339(delivery.at),
        "status": delivery.status,
        "ok": delivery.ok,
        "duration_ms": delivery.duration_ms,
        "error": delivery.error,
    }


class WebhookCases(Cases):
    async def add_webhook(
        self, user: User, slug: str, data: Mapping[str, Any] | WebhookCreate
    ) -> tuple[Blog, Webhook, str]:
        """Register a URL for the blog's events from now on; the blog, the webhook and its
        secret (the only time the secret is shown)."""
        blog = await self.store.get_blog(slug)
        await self._ensure(user, Action.WEBHOOKS, blog)
        sent = parse(WebhookCreate, data)
        url = await check_url(sent.url, self.settings)
        secret = "whsec_" + secrets.token_urlsafe(32)
        assert blog.id is not None
        webhook = await self.store.add_webhook(
            Webhook(blog.id, url, secret=secret), creator=user.id, now=self.clock()
        )
        blog = await self.store.get_blog(slug)  # its seq as the webhook starts from it
        return blog, webhook, secret

    async def webhooks(self, user: User, slug: str) -> tuple[Blog, list[Webhook]]:
        blog = await self.store.get_blog(slug)
        await self._ensure(user, Action.WEBHOOKS, blog)
        assert blog.id is not None
        return blog, await self.store.list_webhooks(blog.id)

    async def webhook(
        self, user: User, slug: str, webhook_id: int
    ) -> tuple[Blog, Webhook, list[Delivery]]:
        """One webhook and its delivery log (the last attempts, newest first)."""
        blog = await self.store.get_blog(slug)
        await self._ensure(user, Action.WEBHOOKS, blog)
        assert blog.id is not None
        webhook = await self.store.get_webhook(blog.id, webhook_id)
        return blog, webhook, await self.store.deliveries(webhook_id)

    async def change_webhook(
        self, user: User, slug: str, webhook_id: int, data: Mapping[str, Any] | WebhookPatch
    ) -> tuple[Blog, Webhook]:
        """Pause, or resume from where it stopped."""
        blog = await self.store.get_blog(slug)
        await self._ensure(user, Action.WEBHOOKS, blog)
        sent = parse(WebhookPatch, data)
        assert blog.id is not None
        webhook = await self.store.set_webhook_state(
            blog.id,
            webhook_id,
            WebhookState(sent.state),
            now=self.clock(),
            reason=f"paused by {user.name}",
        )
        return blog, webhook

    async def delete_webhook(self, user: User, slug: str, webhook_id: int) -> None:
        blog = await self.store.get_blog(slug)
        await self._ensure(user, Action.WEBHOOKS, blog)
        assert blog.id is not None
        await self.store.delete_webhook(blog.id, webhook_id)
