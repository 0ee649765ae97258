"""Fixtures: every store-backed test runs on SQLite and on a throwaway PostgreSQL cluster; HTTP
tests talk to a real uvicorn server on a free port, in the test's own event loop."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from dateline.bus import open_bus
from dateline.config import Settings
from dateline.model import User
from dateline.newsroom import Newsroom
from dateline.store import Store, open_store
from dateline.web.server import ServedApp, served_app
from dateline.web.server.run import uvicorn_options
from dateline.web.services import Services
from tests.figures import proof_figures, pytest_terminal_summary  # noqa: F401 (the proof figures)
from tests.nodes import SEED
from tests.platforms import Platforms, start_platforms
from tests.servers import PostgresServer, RedisServer, free_port, start_postgres, start_redis

_db_names = itertools.count()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = start_postgres(tmp_path_factory.mktemp("postgres"))
    yield server
    server.stop()


async def _migrated(url: str) -> None:
    store = await open_store(url)
    await store.close()


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once per run; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    await _migrated(f"sqlite:///{path}")  # closing the last connection checkpoints the WAL
    return path


@pytest.fixture(scope="session")
async def postgres_template(postgres: PostgresServer) -> str:
    """A PostgreSQL database migrated once per run; each test gets CREATE DATABASE … TEMPLATE."""
    name = f"template_{os.getpid()}"
    await _migrated(postgres.create_database(name))
    return name


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with the current schema, for this test alone."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "dateline.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    server: PostgresServer = request.getfixturevalue("postgres")
    source: str = request.getfixturevalue("postgres_template")
    return server.create_database(f"t{os.getpid()}_{next(_db_names)}", template=source)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    s = await open_store(database_url)
    yield s
    await s.close()


@pytest.fixture
def seed_text() -> str:
    return SEED.read_text("utf-8")


@dataclass
class Running:
    """A Dateline server in this event loop, reachable over real HTTP."""

    app: ServedApp
    base_url: str
    admin: User
    token: str
    # Set when the app is called in-process (no server, no port): tests where the network
    # does not matter. Tests marked `network` (live streams, sockets, nginx, browsers) get a
    # real uvicorn on a free port.
    transport: httpx.ASGITransport | None = None
    # The real server, where there is one (a test may replace it, as a restart).
    server: tuple[uvicorn.Server, asyncio.Task[None]] | None = None

    @property
    def services(self) -> Services:
        found: Services = self.app.state.services
        return found

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def newsroom(self) -> Newsroom:
        return self.services.newsroom

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if self.transport is not None:
            kwargs.setdefault("transport", self.transport)
        kwargs.setdefault("timeout", 10)
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, **kwargs)

    async def make_user(self, role: str, *, blogs: tuple[str, ...] = ()) -> str:
        user = await self.newsroom.create_user(
            None,
            email=f"{role}{next(_db_names)}@example.org",
            name=f"A {role}",
            role=role,
            blogs=blogs,
        )
        return await self.newsroom.issue_token(user)


async def start_server(
    settings: Settings, http: str = "auto"
) -> tuple[uvicorn.Server, asyncio.Task[None], ServedApp]:
    """The app as `dateline serve` runs it (web/server/), in this event loop."""
    app = served_app(settings)
    options = {**uvicorn_options(settings), "host": "127.0.0.1"}
    if http != "auto":  # another of uvicorn's protocols, instead of Dateline's guarded one
        options["http"] = http
    config = uvicorn.Config(app, log_level="warning", lifespan="on", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    else:
        raise RuntimeError("the test server did not start")
    return server, task, app


async def stop_server(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await app_hub_close(server)
    await asyncio.wait_for(task, 10)


async def app_hub_close(server: uvicorn.Server) -> None:
    # Open live streams would hold the shutdown: end them as a deploy would.
    app = server.config.app
    services = getattr(getattr(app, "state", None), "services", None)
    if services is not None:
        await services.hub.close()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Settings a test changes: `@pytest.mark.parametrize("settings_overrides", [{…}])`."""
    return {}


@pytest.fixture
def settings(database_url: str, tmp_path: Path, settings_overrides: dict[str, Any]) -> Settings:
    return Settings(
        database_url=database_url,
        port=free_port(),
        media_dir=str(tmp_path / "media"),
        heartbeat_seconds=0.5,
        secret_key="test-secret",
        # The test process's garbage collector is left alone (tests/test_gcpause.py tests it).
        gc_thaw_seconds=0,
        **settings_overrides,
    )


@pytest.fixture
def server_http() -> str:
    """uvicorn's HTTP protocol for the test server: "auto" (httptools, as `dateline serve`)."""
    return "auto"


async def _admin(app: ServedApp) -> tuple[User, str]:
    newsroom: Newsroom = app.state.services.newsroom
    admin = await newsroom.create_user(None, email="admin@example.org", name="Admin", role="admin")
    return admin, await newsroom.issue_token(admin)


@pytest.fixture
async def running(
    settings: Settings, server_http: str, request: pytest.FixtureRequest
) -> AsyncIterator[Running]:
    base_url = f"http://127.0.0.1:{settings.port}"
    network = any(request.node.get_closest_marker(m) for m in ("network", "browser"))
    if not network:
        app = served_app(settings)
        async with app.app.router.lifespan_context(app.app):
            admin, token = await _admin(app)
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            yield Running(app, base_url, admin, token, transport)
        return
    server, task, app = await start_server(settings, server_http)
    admin, token = await _admin(app)
    running = Running(app, base_url, admin, token, server=(server, task))
    yield running
    assert running.server is not None
    await stop_server(*running.server)


@pytest.fixture
async def seeded(running: Running, seed_text: str) -> Running:
    """The running server with the seed blog imported as `xi-putin-moscow`."""
    from dateline.importers.text import parse_text

    await running.newsroom.import_blog(parse_text(seed_text, slug="xi-putin-moscow"), running.admin)
    return running


@pytest.fixture
def offline_newsroom(store: Store) -> Newsroom:
    """A newsroom on the store with an in-process bus nobody listens to."""
    return Newsroom(store, open_bus("memory://"))


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of this test's own, for tests that stop, freeze or restart it."""
    server = start_postgres(tmp_path / "own-postgres", own=True)
    yield server
    server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, on a free port."""
    server = start_redis(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fake() -> Iterator[Platforms]:
    """Local stand-ins for Telegram's Bot API and Slack's Web API (tests/platforms.py)."""
    state, server = start_platforms()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def platforms(fake: Platforms) -> Platforms:
    """The stand-ins, with the calls of earlier tests forgotten."""
    with fake.lock:
        fake.calls.clear()
    return fake
