"""The node as `dateline serve` runs it, at the edge: which forwarded headers it believes (the
scheme, and the address sign-in throttling counts), its limits at the connection, and how long
an idle connection is kept."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from datetime import UTC, datetime

import httpx
import pytest

from dateline.config import Settings
from dateline.newsroom import accounts
from tests import sse
from tests.conftest import Running

SLUG = "xi-putin-moscow"
pytestmark = pytest.mark.network
PROXIED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


async def test_forwarded_headers_are_not_believed_from_a_client_by_default(
    seeded: Running,
) -> None:
    async with seeded.client() as c:
        page = await c.get(f"/{SLUG}", headers=PROXIED)
    assert '<link rel="canonical" href="http://127.0.0.1:' in page.text


@pytest.mark.parametrize("settings_overrides", [{"forwarded_allow_ips": "127.0.0.1"}])
async def test_forwarded_headers_from_a_configured_proxy_are_believed(seeded: Running) -> None:
    async with seeded.client() as c:
        page = await c.get(f"/{SLUG}", headers=PROXIED)
    assert '<link rel="canonical" href="https://127.0.0.1:' in page.text


async def _guesses(running: Running, spoofs: list[str | None]) -> list[int]:
    """Wrong passwords, each for another account (the account limit stays out of the way),
    each claiming the address in `spoofs` (None: no header); the statuses."""
    statuses = []
    async with running.client() as c:
        for i, spoof in enumerate(spoofs):
            form = (await c.get("/newsroom/login")).text
            token = re.search(r'name="csrf_token" value="([^"]*)"', form)
            assert token
            r = await c.post(
                "/newsroom/login",
                data={"email": f"nobody{i}@example.org", "password": "wrong password",
                      "csrf_token": token.group(1)},
                headers={"X-Forwarded-For": spoof} if spoof else {},
            )  # fmt: skip
            statuses.append(r.status_code)
    return statuses


async def _failed(running: Running, address: str, count: int) -> None:
    """`count` failed sign-ins from `address` already (a password hash takes a while to check:
    the test makes over HTTP only the attempts around the limit)."""
    for _ in range(count):
        await running.store.record_login_failure([f"ip:{address}"])


async def _bucket(running: Running, address: str) -> int:
    since = datetime.now(UTC) - accounts.THROTTLE_WINDOW
    return len(await running.store.login_failures_since(f"ip:{address}", since))


async def test_a_spoofed_x_forwarded_for_cannot_escape_sign_in_throttling(seeded: Running) -> None:
    limit = accounts.MAX_FAILURES_PER_ADDRESS
    await _failed(seeded, "127.0.0.1", limit - 2)
    # Every guess claims another address: all of them are counted against the real one, and
    # past its limit no claimed address gets another guess.
    spoofs: list[str | None] = [f"203.0.113.{i}" for i in range(5)]
    assert await _guesses(seeded, spoofs) == [401, 401, 429, 429, 429]
    assert await _bucket(seeded, "127.0.0.1") == limit
    assert [await _bucket(seeded, f"203.0.113.{i}") for i in range(5)] == [0] * 5


@pytest.mark.parametrize("settings_overrides", [{"forwarded_allow_ips": "127.0.0.1"}])
async def test_x_forwarded_for_from_a_configured_proxy_names_the_throttled_address(
    seeded: Running,
) -> None:
    limit = accounts.MAX_FAILURES_PER_ADDRESS
    await _failed(seeded, "203.0.113.7", limit - 1)
    assert await _guesses(seeded, ["203.0.113.7", "203.0.113.7"]) == [401, 429]
    # The proxy's other clients, and the proxy itself, are counted on their own.
    assert await _guesses(seeded, ["203.0.113.8", None]) == [401, 401]
    assert await _bucket(seeded, "203.0.113.7") == limit
    assert await _bucket(seeded, "203.0.113.8") == await _bucket(seeded, "127.0.0.1") == 1


# -- limits at the connection (web/server/limits.py) -------------------------------------------

LIMITS = {
    "max_header_bytes": 8_192,
    "max_headers": 50,
    "header_timeout_seconds": 0.5,
    "max_connections": 60,
    "max_live_readers": 20,
}


async def _raw(port: int, data: bytes, *, source: str = "127.0.0.1") -> bytes:
    """Send `data` on a new connection; what comes back before it closes (5 s at most)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(data)
    try:
        async with asyncio.timeout(5):
            return await reader.read()
    finally:
        writer.close()


def _port(running: Running) -> int:
    return int(running.base_url.rsplit(":", 1)[1])


async def _still_serves(running: Running) -> None:
    async with running.client() as c:
        assert (await c.get(f"/{SLUG}")).status_code == 200


@pytest.mark.parametrize("settings_overrides", [LIMITS])
async def test_oversized_headers_are_refused_as_they_arrive(seeded: Running) -> None:
    port = _port(seeded)
    over = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n"
    assert (await _raw(port, over)).startswith(b"HTTP/1.1 431")
    many = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(60))
    assert (await _raw(port, many + b"\r\n")).startswith(b"HTTP/1.1 431")
    # A 100 MB header is cut off after its first reads, and holds nobody up meanwhile.
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    began = time.monotonic()
    sent = 0
    with contextlib.suppress(ConnectionError):
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
        while sent < 100 * 2**20:
            writer.write(b"a" * 2**20)
            await writer.drain()
            sent += 2**20
    assert sent < 100 * 2**20 and time.monotonic() - began < 5
    writer.close()
    began = time.monotonic()
    await _still_serves(seeded)
    assert time.monotonic() - began < 1


@pytest.mark.parametrize("settings_overrides", [LIMITS])
async def test_connections_that_send_no_headers_in_time_are_closed(seeded: Running) -> None:
    port = _port(seeded)
    began = time.monotonic()
    assert (await _raw(port, b"")).startswith(b"HTTP/1.1 408")  # connects, says nothing
    assert (await _raw(port, b"GET / HTTP/1.1\r\nHo")).startswith(b"HTTP/1.1 408")
    assert time.monotonic() - began < 3
    await _still_serves(seeded)


@pytest.mark.parametrize(
    "settings_overrides", [{**LIMITS, "header_timeout_seconds": 30, "max_connections": 2000}]
)
async def test_one_address_cannot_hold_every_connection_with_partial_headers(
    seeded: Running,
) -> None:
    from dateline.web.server.limits import SLOW_PER_ADDRESS

    port = _port(seeded)
    held = []
    try:
        for _ in range(SLOW_PER_ADDRESS + 20):
            _, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=("127.0.0.5", 0)
            )
            writer.write(b"GET / HTTP/1.1\r\n")
            held.append(writer)
        await asyncio.sleep(0.3)
        # Beyond its share the slow address is turned away; other readers are still served.
        async with httpx.AsyncClient(base_url=seeded.base_url) as c:
            assert (await c.get(f"/{SLUG}")).status_code == 200
    finally:
        for writer in held:
            writer.close()


@pytest.mark.parametrize("settings_overrides", [LIMITS])
async def test_live_streams_are_refused_first_keeping_room_for_the_newsroom(
    seeded: Running,
) -> None:
    port = _port(seeded)
    streams = []
    try:
        for _ in range(LIMITS["max_live_readers"]):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET /{SLUG}/live HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert (await reader.readline()).startswith(b"HTTP/1.1 200")
            streams.append(writer)
        ask = f"GET /{SLUG}/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        refused = await _raw(port, ask.encode())
        assert refused.startswith(b"HTTP/1.1 503") and b"retry-after: " in refused.lower()
        async with seeded.client(seeded.token) as c:  # the newsroom still gets in
            r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": "Still here"})
            assert r.status_code == 201
        # And past the connection cap, a connection is closed at once.
        extra = []
        for _ in range(LIMITS["max_connections"] - LIMITS["max_live_readers"] + 5):
            extra.append(await asyncio.open_connection("127.0.0.1", port))
        ask = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        assert (await _raw(port, ask)) == b""
        for _, writer in extra:
            writer.close()
    finally:
        for writer in streams:
            writer.close()


# -- idle connections ---------------------------------------------------------------------------

# The header deadline longer than the idle one, so that each test shows which of them closed
# the connection.
IDLE = {"idle_timeout_seconds": 1.0, "header_timeout_seconds": 2.5}


async def _response(reader: asyncio.StreamReader) -> bytes:
    """One whole response (with a Content-Length) off a keep-alive connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"\r\ncontent-length: (\d+)\r\n", head.lower())
    assert length, head
    return head + await reader.readexactly(int(length.group(1)))


async def _closed_after(reader: asyncio.StreamReader) -> tuple[bytes, float]:
    """What the server sends before it closes the connection, and how long that took."""
    began = time.monotonic()
    async with asyncio.timeout(10):
        rest = await reader.read()
    return rest, time.monotonic() - began


def test_an_idle_timeout_that_cannot_work_is_refused_at_start() -> None:
    from dateline.errors import Invalid
    from dateline.web.server.run import uvicorn_options

    assert uvicorn_options(Settings())["timeout_keep_alive"] == 5.0
    with pytest.raises(Invalid, match="idle_timeout_seconds must be more than 0"):
        uvicorn_options(Settings(idle_timeout_seconds=0))


@pytest.mark.parametrize("settings_overrides", [IDLE])
async def test_an_idle_keep_alive_connection_is_closed_after_idle_timeout_seconds(
    seeded: Running,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(seeded))
    try:
        ask = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        writer.write(ask)
        assert (await _response(reader)).startswith(b"HTTP/1.1 200")
        await asyncio.sleep(0.5)  # within the bound, the connection is kept for the next request
        writer.write(ask)
        assert (await _response(reader)).startswith(b"HTTP/1.1 200")
        rest, waited = await _closed_after(reader)
        # Closed without a word (nothing was asked), by the idle bound, not the header deadline.
        assert rest == b"" and 0.8 < waited < 2.0, (rest, waited)
    finally:
        writer.close()
    await _still_serves(seeded)


@pytest.mark.parametrize("settings_overrides", [IDLE])
async def test_a_connection_that_never_sends_a_byte_is_closed_at_the_header_deadline(
    seeded: Running,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(seeded))
    try:
        rest, waited = await _closed_after(reader)
        assert rest.startswith(b"HTTP/1.1 408") and 2.3 < waited < 4.0, (rest, waited)
    finally:
        writer.close()


@pytest.mark.parametrize("settings_overrides", [IDLE])
async def test_a_live_stream_outlasts_the_idle_timeout(seeded: Running) -> None:
    # A stream is a response still going (the client sends nothing after its request, the node
    # only heartbeats): the idle bound, which starts when a response is complete, never cuts it.
    last_seq = (await seeded.store.get_blog(SLUG)).last_seq
    async with sse.connect(seeded.base_url, f"/{SLUG}/live", last_event_id=last_seq) as stream:
        assert stream.status == 200
        await asyncio.sleep(3 * IDLE["idle_timeout_seconds"])
        assert not stream.closed.is_set()
        async with seeded.client(seeded.token) as c:
            r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": "Still streaming"})
            assert r.status_code == 201
        frame = await stream.next_event()
        assert frame.data is not None and frame.data["post"]["headline"] == "Still streaming"
