"""Alembic, driven from code: `dateline migrate` and every server start run it."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from dateline.store.engines import Engines

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant works; it only has to be the same for every Dateline process on one database.
_PG_LOCK_KEY = 0x44617465


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def migrate(engines: Engines, revision: str = "head") -> None:
    async with engines.write.connect() as conn:
        await conn.run_sync(_upgrade, revision, engines.dialect)
        await conn.commit()


def _upgrade(connection: Connection, revision: str, dialect: str) -> None:
    if dialect == "postgresql":
        # Several nodes starting at once: one migrates, the others wait and then find it done.
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    command.upgrade(alembic_config(connection), revision)
