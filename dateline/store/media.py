"""Uploaded images' records: the size, the width variants and the words that go with them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from dateline.store import schema as t
from dateline.store.rows import Rows, utcnow


class MediaRows(Rows):
    async def add_media(self, values: dict[str, Any]) -> None:
        """Record an upload; the same file uploaded twice keeps its first row (and key)."""
        async with self.engines.writing() as conn:
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
        async with self.engines.reading() as conn:
            row = (await conn.execute(t.media.select().where(t.media.c.key == key))).first()
        return dict(row._mapping) if row is not None else None
