"""The store: the truth about blogs, posts, people, media and each blog's event log.

One implementation on SQLAlchemy Core serves both engines, chosen by URL (`sqlite:///PATH`,
`postgresql://…`); the same test suite runs against each. It is split by concern, one module
each, and put together here as one `Store`:

    events.py   the event log (seqs, payloads as the writer shapes them)
    blogs.py    blog headers and status
    posts.py    posts, revisions, pages of posts, scheduled posts
    transfer.py whole blogs in (imports, in batches, hidden until done) and out (exports)
    people.py   users, tokens, memberships, sessions, sign-in failures, instance values
    media.py    uploaded images' records
    webhooks.py signed webhooks: their cursors, leases and delivery logs
    intake.py   reporter inputs: pairing codes, pairings, messages received, linked channels
    push.py     web push: followers of blogs, notifications on their way to them
    rows.py     rows ↔ the domain's dataclasses
    schema.py   the tables; migrations/ creates them

The store persists what it is handed; it knows nothing of readers' JSON, URLs or permissions."""

from __future__ import annotations

import sqlalchemy as sa

from dateline.store.engines import Engines, create_engines
from dateline.store.events import Shape
from dateline.store.intake import IntakeRows, LinkedChannel, Pairing, Received
from dateline.store.media import MediaRows
from dateline.store.migrate import migrate
from dateline.store.people import PeopleRows, TokenInfo
from dateline.store.posts import Keyset, PostChange
from dateline.store.push import Delivery, PushEvent, PushPlace, PushRows, PushStep
from dateline.store.transfer import LoggedEvent, TransferRows
from dateline.store.webhooks import WebhookRows


class Store(TransferRows, PeopleRows, MediaRows, WebhookRows, IntakeRows, PushRows):
    def __init__(self, url: str) -> None:
        self.url = url
        self.engines: Engines = create_engines(url)

    @property
    def dialect(self) -> str:
        return self.engines.dialect

    async def close(self) -> None:
        await self.engines.dispose()

    async def ping(self) -> None:
        """Raises `Unavailable` unless the database answers."""
        async with self.engines.reading() as conn:
            await conn.execute(sa.text("SELECT 1"))


async def open_store(url: str, *, upgrade: bool = True) -> Store:
    """Connect, and bring the schema to the newest migration unless told not to."""
    store = Store(url)
    if upgrade:
        await migrate(store.engines)
    return store


__all__ = [
    "Delivery",
    "Keyset",
    "LinkedChannel",
    "LoggedEvent",
    "Pairing",
    "PostChange",
    "PushEvent",
    "PushPlace",
    "PushStep",
    "Received",
    "Shape",
    "Store",
    "TokenInfo",
    "migrate",
    "open_store",
]
