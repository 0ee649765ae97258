"""The nginx configuration we ship (deploy/nginx.conf), run for real in front of Dateline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests import sse
from tests.conftest import Running
from tests.nodes import Nginx

pytestmark = pytest.mark.network  # live streams and sockets need a real server

SLUG = "xi-putin-moscow"


@pytest.fixture
async def nginx(seeded: Running, tmp_path: Path) -> AsyncIterator[str]:
    upstream = seeded.base_url.removeprefix("http://")
    proxy = Nginx([upstream], seeded.services.settings.media_dir, tmp_path)
    # The Dateline under test runs in this event loop: wait without blocking it.
    async with httpx.AsyncClient() as c:
        for _ in range(100):
            try:
                await c.get(f"{proxy.base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    yield proxy.base
    proxy.stop()


async def test_nginx_caches_pages_and_revalidates_them(seeded: Running, nginx: str) -> None:
    async with httpx.AsyncClient(base_url=nginx) as c:
        first = await c.get(f"/{SLUG}")
        second = await c.get(f"/{SLUG}")
        assert first.status_code == second.status_code == 200
        assert first.headers["x-cache-status"] == "MISS"
        assert second.headers["x-cache-status"] == "HIT"
        assert second.text == first.text and "7:28 p.m. ET, March 20, 2023" in second.text
        r = await c.post(
            f"/api/v1/blogs/{SLUG}/posts",
            json={"headline": "Through the proxy"},
            headers={"Authorization": f"Bearer {seeded.token}"},
        )
        assert r.status_code == 201
        # An authenticated read (a newsroom view of drafts) never comes from the shared cache.
        r = await c.get(
            f"/api/v1/blogs/{SLUG}/posts/{r.json()['id']}",
            headers={"Authorization": f"Bearer {seeded.token}"},
        )
        assert r.status_code == 200 and r.headers["x-cache-status"] == "BYPASS"


async def test_nginx_keeps_one_cached_copy_per_encoding(seeded: Running, nginx: str) -> None:
    async with httpx.AsyncClient(base_url=nginx) as c:
        bodies = {}
        for accept, encoding in (("br, gzip", "br"), ("gzip", "gzip"), ("identity", None)):
            for expected in ("MISS", "HIT"):
                r = await c.get(f"/{SLUG}/feed.atom", headers={"Accept-Encoding": accept})
                assert r.status_code == 200, accept
                assert r.headers["x-cache-status"] == expected, accept
                assert r.headers.get("content-encoding") == encoding, accept
                assert "Accept-Encoding" in r.headers["vary"]  # passed on to browsers and CDNs
                bodies[accept] = r.text  # decoded by httpx
        assert len(set(bodies.values())) == 1


async def test_live_streams_pass_through_nginx_unbuffered(seeded: Running, nginx: str) -> None:
    async with sse.connect(nginx, f"/{SLUG}/live?after=9") as reader:
        assert reader.status == 200
        async with seeded.client(seeded.token) as c:
            started = time.monotonic()
            await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": "Via nginx"})
        frame = await reader.next_event(timeout=2)
        assert time.monotonic() - started < 1.0
    assert frame.id == 10 and frame.data and frame.data["post"]["headline"] == "Via nginx"


async def test_nginx_serves_uploads_itself_and_never_caches_the_console(
    seeded: Running, nginx: str
) -> None:
    from tests.test_uploads import FIELDS, jpeg_with_gps

    async with seeded.client(seeded.token) as c:
        r = await c.post(
            "/api/v1/media", files={"file": ("p.jpg", jpeg_with_gps(100, 80))}, data=FIELDS
        )
        assert r.status_code == 201
        url = r.json()["url"]
    async with httpx.AsyncClient(base_url=nginx) as c:
        image = await c.get(url)
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        assert "immutable" in image.headers["cache-control"]
        assert "x-cache-status" not in image.headers  # from the folder, not through a node
        assert (await c.get("/media/../etc/passwd")).status_code in (400, 404)
        for _ in range(2):
            login = await c.get("/newsroom/login")
            assert login.status_code == 200 and "x-cache-status" not in login.headers
