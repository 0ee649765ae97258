"""The store: the truth about blogs, posts, users and each blog's event log.

One implementation on SQLAlchemy Core serves both engines, chosen by URL (`sqlite:///PATH`,
`postgresql://…`); the same test suite runs against each."""

from __future__ import annotations

from dateline.store.migrate import migrate
from dateline.store.sql import SQLStore

Store = SQLStore


async def open_store(url: str, *, upgrade: bool = True) -> Store:
    """Connect, and bring the schema to the newest migration unless told not to."""
    store = SQLStore(url)
    if upgrade:
        await migrate(store.engines)
    return store


__all__ = ["Store", "migrate", "open_store"]
