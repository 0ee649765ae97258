"""The static archive of ended coverage in Chromium, exported by `dateline export --format html`
and served by nginx with the server block of docs/archiving.md, with no Dateline at all: the
database and the media folder are gone before nginx starts, so every byte the browser gets comes
from the exported folder."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import ConsoleMessage, Page, Request, Response, expect

from dateline.bus import open_bus
from dateline.config import Settings
from dateline.newsroom import Newsroom
from dateline.store import Store
from tests.nodes import cli
from tests.servers import free_port
from tests.test_export_html import SLUG, Coverage, build_blog

pytestmark = pytest.mark.browser
DOCS = Path(__file__).resolve().parents[2] / "docs" / "archiving.md"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
ATOM = "{http://www.w3.org/2005/Atom}"


class StaticNginx:
    """nginx serving `root` with the documented server block, on a free port of its own."""

    def __init__(self, root: Path, tmp: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        blocks = re.findall(r"```nginx\n(.*?)```", DOCS.read_text("utf-8"), re.S)
        site = next(b for b in blocks if b.startswith("server {"))
        site = site.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        site = site.replace("root /srv/dateline-archive;", f"root {root};")
        assert str(root) in site and str(self.port) in site and "proxy_pass" not in site
        tmp.mkdir(parents=True, exist_ok=True)
        temps = "".join(
            f"    {kind}_temp_path {tmp / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (tmp / "nginx.conf").write_text(
            f"""user root;
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
{temps}{site}
}}
"""
        )
        self.proc = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf")])
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError((tmp / "error.log").read_text()) from None
                time.sleep(0.05)
        self.stop()
        raise AssertionError("nginx did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@dataclass
class Archive:
    base: str
    coverage: Coverage


@dataclass
class Traffic:
    """Everything the browser asked for and was told, on any page of the test."""

    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def _failed(self, request: Request) -> None:
        self.failed.append(f"{request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.url}: {response.status}")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"console {message.type}: {message.text}")


@pytest.fixture
async def archive(store: Store, settings: Settings, tmp_path: Path) -> AsyncIterator[Archive]:
    newsroom = Newsroom(store, open_bus("memory://"), settings=settings)
    try:
        coverage = await build_blog(newsroom)
    finally:
        newsroom.close()
    await store.close()
    out = tmp_path / "www" / "archive"
    printed = cli(
        "export", SLUG, "--format", "html", "--out", str(out), "--media-dir", settings.media_dir,
        db=settings.database_url,
    )  # fmt: skip
    assert f"wrote the static archive of /{SLUG}" in printed
    # No Dateline can answer for this blog now: its database and its images are gone.
    for name in ("dateline.db", "dateline.db-wal", "dateline.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    shutil.rmtree(settings.media_dir)
    nginx = StaticNginx(out, tmp_path / "nginx")
    try:
        yield Archive(nginx.base, coverage)
    finally:
        nginx.stop()


@pytest.fixture
def traffic(page: Page) -> Iterator[Traffic]:
    seen = Traffic()
    seen.watch(page)
    yield seen


async def _stream_ids(page: Page) -> list[str]:
    ids: list[str] = await page.locator("#stream > article").evaluate_all(
        "articles => articles.map(a => a.dataset.postId)"
    )
    return ids


async def _images_load(page: Page) -> int:
    """Each picture on the page, scrolled to (they load lazily), has pixels."""
    images = page.locator("img")
    count = await images.count()
    for i in range(count):
        image = images.nth(i)
        if not await image.is_visible():
            continue
        await image.scroll_into_view_if_needed()
        await expect(image).to_have_js_property("complete", True)
        assert await image.evaluate("img => img.naturalWidth") > 0, await image.get_attribute("src")
    return count


async def _json_ld(page: Page) -> dict[str, object]:
    text = await page.locator('script[type="application/ld+json"]').text_content()
    assert text
    data: dict[str, object] = json.loads(text)
    return data


async def test_the_archive_reads_in_chromium_from_nginx_alone(
    archive: Archive, page: Page, traffic: Traffic
) -> None:
    published = [p.id for p in archive.coverage.published]
    response = await page.goto(f"{archive.base}/{SLUG}")
    assert response is not None and response.status == 200
    assert page.url == f"{archive.base}/{SLUG}"  # no redirect to /SLUG/
    assert "script-src" not in response.headers["content-security-policy"]  # no script at all
    await expect(page.locator(".blog-header__ended")).to_have_text("This live coverage has ended.")
    assert await _stream_ids(page) == published
    # The style sheet applies: the pinned post's body is shown once, in its slot.
    pinned = next(p for p in archive.coverage.published if p.pinned)
    await expect(page.locator(f"#stream #post-{pinned.id} .post__body")).to_be_hidden()
    await expect(page.locator(f"#pinned-post-{pinned.id} .post__body")).to_be_visible()
    assert await _images_load(page) >= 2
    blog = await _json_ld(page)
    assert blog["@type"] == "LiveBlogPosting" and blog["coverageEndTime"]

    # "Sort by" leads to the oldest-first page of the archive.
    await page.get_by_role("link", name="Oldest first").click()
    await expect(page).to_have_url(f"{archive.base}/{SLUG}/oldest")
    assert await _stream_ids(page) == published[::-1]
    await page.get_by_role("link", name="Newest first").click()
    await expect(page).to_have_url(f"{archive.base}/{SLUG}")

    # A permalink, reached from the page as a reader would.
    post = next(p for p in archive.coverage.published if p.media)
    await page.locator(f"#stream #post-{post.id} .post__time").click()
    await expect(page).to_have_url(f"{archive.base}/{SLUG}/posts/{post.id}")
    await expect(page.locator("article")).to_have_count(1)
    await expect(page.locator(f"article#post-{post.id}")).to_contain_text(post.headline)
    assert await _images_load(page) == 2  # the figure and the picture in the text
    item = await _json_ld(page)
    assert item["@type"] == "BlogPosting"

    # The embed, as other sites' iframes load it.
    embed = await page.goto(f"{archive.base}/{SLUG}/embed")
    assert embed is not None and "frame-ancestors *" in embed.headers["content-security-policy"]
    await expect(page.locator("#stream > article")).to_have_count(len(published))

    # The feed, with every post.
    feed = await page.goto(f"{archive.base}/{SLUG}/feed.atom")
    assert feed is not None and feed.status == 200
    assert feed.headers["content-type"].startswith("application/atom+xml")
    entries = ET.fromstring(await feed.body()).findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == [f"/{SLUG}/posts/{i}" for i in published]

    assert traffic.failed == [] and traffic.errors == []
    assert traffic.requests and all(u.startswith(archive.base + "/") for u in traffic.requests)
    asked = {u.removeprefix(archive.base).split("?")[0] for u in traffic.requests}
    assert not [u for u in asked if u.endswith(("/live", ".js")) or u.startswith("/api/")]
    assert "/static/dateline.css" in asked and any(u.startswith("/media/") for u in asked)


async def test_the_live_sites_oldest_first_address_gives_the_oldest_first_page(
    archive: Archive, page: Page, traffic: Traffic
) -> None:
    published = [p.id for p in archive.coverage.published]
    response = await page.goto(f"{archive.base}/{SLUG}?sort=oldest")
    assert response is not None and response.status == 200
    await expect(page.locator('nav.sort [aria-current="true"]')).to_have_text("Oldest first")
    assert await _stream_ids(page) == published[::-1]
    # Any other query is the whole page, newest first (a tag filter, a "Load more" cursor).
    await page.goto(f"{archive.base}/{SLUG}?tag=Summit&cursor=abc")
    assert await _stream_ids(page) == published
    for gone in ("/live", "/nope", "/posts/nope"):
        missing = await page.request.get(f"{archive.base}/{SLUG}{gone}")
        assert missing.status == 404
    assert (await page.request.get(f"{archive.base}/.dateline-archive.json")).status == 404
    assert traffic.failed == [] and traffic.errors == []
