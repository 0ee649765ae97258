"""The throwaway servers of tests/servers.py start, answer over real connections, and stop."""

from __future__ import annotations

import socket
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from tests.servers import free_port, start_postgres, start_redis


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", port))


async def _select_one(url: str) -> tuple[int, str]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        one = await conn.fetchval("SELECT 1")
        name = await conn.fetchval("SELECT current_database()")
        return one, name
    finally:
        await conn.close()


@pytest.mark.postgres
async def test_postgres_starts_answers_and_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATELINE_TEST_POSTGRES_URL", raising=False)
    server = start_postgres(tmp_path)
    try:
        assert server.url == f"postgresql://dateline@127.0.0.1:{server.port}/postgres"
        assert server.datadir.is_dir()
        assert await _select_one(server.url) == (1, "postgres")

        url = server.create_database("t_servers_one")
        assert url == f"postgresql://dateline@127.0.0.1:{server.port}/t_servers_one"
        assert await _select_one(url) == (1, "t_servers_one")
        conn = await asyncpg.connect(url, timeout=10)
        try:
            tables = await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname='public'")
            assert tables == 0
        finally:
            await conn.close()

        # With DATELINE_TEST_POSTGRES_URL set nothing is started, and stop() leaves the server be.
        monkeypatch.setenv("DATELINE_TEST_POSTGRES_URL", server.url.replace("://", "+asyncpg://"))
        external = start_postgres(tmp_path)
        assert external.url == server.url
        assert external.port == server.port
        assert external.create_database("t_servers_two").endswith("/t_servers_two")
        external.stop()
        assert await _select_one(server.url) == (1, "postgres")
        # A test that stops its server gets one of its own even then (own_postgres).
        own = start_postgres(tmp_path / "own", own=True)
        try:
            assert own.port != server.port and own.datadir.is_dir()
            assert await _select_one(own.url) == (1, "postgres")
        finally:
            own.stop()
        assert await _select_one(server.url) == (1, "postgres")
    finally:
        server.stop()

    assert not server.datadir.exists()
    assert (tmp_path / "postgres.log").is_file()
    with pytest.raises((OSError, asyncpg.PostgresError)):
        await asyncpg.connect(server.url, timeout=5)
    server.stop()  # idempotent


def _ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"PING\r\n")
        return s.recv(64)


def test_redis_starts_answers_and_stops(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    try:
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert _ping(server.port) == b"+PONG\r\n"
    finally:
        server.stop()
    with pytest.raises(OSError):
        _ping(server.port)
    server.stop()  # idempotent
    assert not list(tmp_path.glob("*.rdb"))
