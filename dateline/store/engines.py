"""Database URLs → SQLAlchemy async engines, with each engine's durability settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from dateline.errors import Invalid, Unavailable

log = logging.getLogger("dateline.store")

# How long a request may wait for the database before it is told to come back later (503):
# for a connection from the pool, for a new connection, for one statement.
POOL_WAIT_SECONDS = 5.0
CONNECT_SECONDS = 3.0
STATEMENT_SECONDS = 5.0
RETRY_AFTER_SECONDS = 2


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
    _outage: _OutageLog = field(default_factory=lambda: _OutageLog())

    async def dispose(self) -> None:
        await self.write.dispose()
        if self.read is not self.write:
            await self.read.dispose()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; the database being away or overloaded is `Unavailable`."""
        with self._outage.translated():
            async with self.read.connect() as conn:
                yield conn

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncConnection]:
        """A transaction (committed on leaving, rolled back on an error); the database being
        away or overloaded is `Unavailable`, and then nothing was written."""
        with self._outage.translated():
            async with self.write.begin() as conn:
                yield conn


# What the database being away, frozen or overloaded looks like from here (not a refused
# statement: an IntegrityError is the caller's business).
_AWAY = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.TimeoutError,  # no connection free in the pool in time
    OSError,
    asyncio.TimeoutError,
)


# SQLSTATE classes that mean the server cannot serve now, whatever the statement: connection
# exceptions (08), insufficient resources (53: too many connections), operator intervention (57:
# shutting down, starting up, restarting). asyncpg's errors for these reach SQLAlchemy as a plain
# DBAPIError, not an OperationalError.
_AWAY_SQLSTATES = ("08", "53", "57")


def _server_away(error: exc.DBAPIError) -> bool:
    sqlstate = getattr(error.orig, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(_AWAY_SQLSTATES)


@dataclass
class _OutageLog:
    """Turns the database's absence into `Unavailable` and logs it as one line every few
    seconds, not a traceback per request."""

    every: float = 5.0
    _last: float = 0.0
    _since: int = 0

    @contextlib.contextmanager
    def translated(self) -> Iterator[None]:
        try:
            yield
        except exc.DBAPIError as error:
            if isinstance(error, exc.IntegrityError) or not (
                isinstance(error, _AWAY) or error.connection_invalidated or _server_away(error)
            ):
                raise
            self._away(error)
        except _AWAY as error:
            self._away(error)

    def _away(self, error: BaseException) -> None:
        self._since += 1
        now = time.monotonic()
        if now - self._last >= self.every:
            reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
            log.warning(
                "the database is unavailable (%d requests answered 503 since the last report): %s",
                self._since,
                reason,
            )
            self._last, self._since = now, 0
        raise Unavailable(
            "the database is unavailable or overloaded; nothing was changed, try again in a "
            "few seconds",
            retry_after=RETRY_AFTER_SECONDS,
        ) from None


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
        # One writer: concurrent writes queue for it (a burst of publishes takes a while), but
        # not for ever.
        write = create_async_engine(target, pool_size=1, max_overflow=0, pool_timeout=15)
        read = create_async_engine(
            target, pool_size=8, max_overflow=8, pool_timeout=POOL_WAIT_SECONDS
        )
        _configure_sqlite(write, begin="BEGIN IMMEDIATE")
        _configure_sqlite(read, begin="BEGIN")
        return Engines(write=write, read=read, dialect="sqlite")
    engine = create_async_engine(
        target,
        pool_size=10,
        max_overflow=20,
        pool_timeout=POOL_WAIT_SECONDS,
        pool_pre_ping=True,  # a connection that died with its server is replaced, not used
        connect_args={
            "timeout": CONNECT_SECONDS,  # a server that does not answer (frozen, unreachable)
            "command_timeout": STATEMENT_SECONDS,  # a statement that never returns
            "server_settings": {"statement_timeout": str(int(STATEMENT_SECONDS * 1000))},
        },
    )
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
