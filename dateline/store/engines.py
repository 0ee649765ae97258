"""Database URLs → SQLAlchemy async engines, with each engine's durability settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dateline.errors import Invalid


@dataclass(frozen=True)
class Engines:
    """`write` takes every transaction that changes data; `read` serves the readers.

    SQLite allows one writer at a time: its write engine is a single connection that opens each
    transaction with BEGIN IMMEDIATE, so concurrent publishers queue instead of failing with
    "database is locked", while WAL lets the read pool go on reading. PostgreSQL uses one pool
    for both."""

    write: AsyncEngine
    read: AsyncEngine
    dialect: str

    async def dispose(self) -> None:
        await self.write.dispose()
        if self.read is not self.write:
            await self.read.dispose()


def async_url(url: str) -> str:
    """`sqlite:///x.db` → `sqlite+aiosqlite:///x.db`; `postgresql://…` → `postgresql+asyncpg://…`."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise Invalid(
            f"database URL {url!r} is not a URL; use sqlite:///PATH or postgresql://HOST/DB",
            field="database_url",
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise Invalid(
        f"database URL scheme {parsed.drivername!r} is not supported; use sqlite:// or postgresql://",
        field="database_url",
    )


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if (
        parsed.get_backend_name() != "sqlite"
        or not parsed.database
        or parsed.database == ":memory:"
    ):
        return None
    return Path(parsed.database)


def create_engines(url: str) -> Engines:
    target = async_url(url)
    if target.startswith("sqlite"):
        path = sqlite_path(url)
        if path is None:
            raise Invalid(
                "an in-memory SQLite database cannot be shared between connections; "
                "use sqlite:///PATH",
                field="database_url",
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        write = create_async_engine(target, pool_size=1, max_overflow=0, pool_timeout=60)
        read = create_async_engine(target, pool_size=8, max_overflow=8)
        _configure_sqlite(write, begin="BEGIN IMMEDIATE")
        _configure_sqlite(read, begin="BEGIN")
        return Engines(write=write, read=read, dialect="sqlite")
    engine = create_async_engine(target, pool_size=10, max_overflow=20, pool_pre_ping=True)
    return Engines(write=engine, read=engine, dialect="postgresql")


def _configure_sqlite(engine: AsyncEngine, *, begin: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event own transaction boundaries (the driver's own implicit
        # BEGIN is deferred, which would let two writers both read last_seq before either writes).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit the API acknowledged survives a power cut, not only a process crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)
