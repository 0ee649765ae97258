"""Readers following a live blog: what a browser's push subscription must look like, and
following and unfollowing. Like a poll vote, following needs no account; unlike a vote, it is
undone as easily as it is made.

A subscription is the JSON of the browser's `PushSubscription`:

    {"endpoint": "https://fcm.googleapis.com/fcm/send/…",
     "expirationTime": null,
     "keys": {"p256dh": "<base64url, 65 bytes>", "auth": "<base64url, 16 bytes>"}}

The endpoint is where Dateline will send requests, so it is taken only on a known push service
(`push_services`, over https; a loopback address may use http, as browsers allow for local
development), which keeps a hostile "subscription" from turning the server into a client of
anything else. Only the endpoint and the two keys are kept (store/push.py).

Like every write, following goes through the newsroom: the reader page's button
(web/reader/follow.py) calls `Followers`; outbound/push.py sends to whom it keeps."""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field

from dateline.config import Settings
from dateline.errors import Invalid, NotFound
from dateline.model import Blog
from dateline.newsroom.cases import parse
from dateline.store import Store

MAX_ENDPOINT = 1000


class Keys(BaseModel):
    model_config = ConfigDict(extra="ignore")
    p256dh: str = Field(max_length=100)
    auth: str = Field(max_length=50)


class Subscription(BaseModel):
    model_config = ConfigDict(extra="ignore")  # expirationTime, and whatever browsers add
    endpoint: str = Field(max_length=MAX_ENDPOINT)
    keys: Keys


class Unfollow(BaseModel):
    model_config = ConfigDict(extra="ignore")  # the whole subscription may be sent back
    endpoint: str = Field(max_length=MAX_ENDPOINT)


def allowed_hosts(settings: Settings) -> list[str]:
    return [h.strip().lower().strip(".") for h in settings.push_services.split(",") if h.strip()]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(endpoint: str, settings: Settings) -> str:
    """The endpoint, if it is on one of the push services Dateline sends to."""
    try:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        host, parts = "", urlsplit("")
    if parts.username or parts.password or not host:
        raise Invalid("endpoint must be the push service's URL", field="endpoint")
    secure = parts.scheme == "https" or (parts.scheme == "http" and _loopback(host))
    if not secure:
        raise Invalid("endpoint must be an https:// URL", field="endpoint")
    if not any(host == h or host.endswith("." + h) for h in allowed_hosts(settings)):
        raise Invalid(
            f"endpoint's host {host!r} is not a push service this site sends to "
            "(its operator lists them in the push_services setting)",
            field="endpoint",
        )
    return endpoint


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(text: str, size: int, field: str) -> bytes:
    try:
        raw = _unb64url(text)
        if len(raw) != size or _unb64url(text.rstrip("=")) != raw:
            raise ValueError
    except ValueError:
        raise Invalid(f"{field} must be base64url of {size} bytes", field=field) from None
    return raw


def check_subscription(sent: Subscription, settings: Settings) -> Subscription:
    check_endpoint(sent.endpoint, settings)
    point = _key(sent.keys.p256dh, 65, "keys.p256dh")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise Invalid("keys.p256dh is not a P-256 public key", field="keys.p256dh") from None
    _key(sent.keys.auth, 16, "keys.auth")
    return sent


class Followers:
    """Following and unfollowing blogs, for readers (web/reader/follow.py)."""

    def __init__(self, store: Store, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    def _enabled(self) -> None:
        if not self.settings.web_push:
            raise NotFound("this site does not send notifications (web_push is off)")

    async def follow(self, blog: Blog, data: Mapping[str, Any]) -> bool:
        """Follow the blog with the subscription `data`; True if it is a new follower."""
        self._enabled()
        sent = check_subscription(parse(Subscription, data), self.settings)
        return await self.store.follow(
            blog, sent.endpoint, sent.keys.p256dh, sent.keys.auth, self.clock()
        )

    async def unfollow(self, blog: Blog, data: Mapping[str, Any]) -> None:
        """Stop following; a subscription that was not following is told so (404), so that a
        page can tell a stale state from a done one."""
        sent = parse(Unfollow, data)
        assert blog.id is not None
        if not await self.store.unfollow(blog.id, sent.endpoint):
            raise NotFound("this browser was not following this blog")
