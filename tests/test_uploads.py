"""Image uploads through the API, and hostile input anywhere a newsroom can type."""

from __future__ import annotations

import asyncio
import io
import re
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.conftest import Running

SLUG = "xi-putin-moscow"
FIELDS = {"alt": "Xi and Putin shake hands", "caption": "In the Kremlin.", "credit": "Pool/Reuters"}


def jpeg_with_gps(width: int = 1800, height: int = 1200) -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0112] = 6  # orientation: rotate 90° when shown
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (55.0, 45.0, 0.0)  # near the Kremlin
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


async def _upload(running: Running, data: bytes, **fields: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    async with running.client(running.token) as c:
        r = await c.post(
            "/api/v1/media",
            files={"file": ("photo.jpg", data, "image/jpeg")},
            data={**FIELDS, **fields},
        )
        return r.status_code, r.json()


async def test_an_upload_is_stripped_resized_and_served_for_a_year(
    running: Running, tmp_path: Path
) -> None:
    status, media = await _upload(running, jpeg_with_gps())
    assert status == 201, media
    assert media["url"].startswith("/media/") and media["url"].endswith(".jpg")
    # Orientation 6 was applied: the stored image is upright (portrait).
    assert (media["width"], media["height"]) == (1200, 1800)
    assert [v["width"] for v in media["variants"]] == [320, 640, 1024, 1200]
    assert media["srcset"].count("w,") == 3
    async with running.client() as c:
        r = await c.get(media["url"])
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert "immutable" in r.headers["cache-control"]
        assert b"Exif" not in r.content and b"SecretCam" not in r.content
        stored = Image.open(io.BytesIO(r.content))
        assert not stored.getexif() and "exif" not in stored.info
        assert (await c.get("/media/..%2F..%2Fetc%2Fpasswd")).status_code == 404
        assert (await c.get("/media/" + "0" * 32 + ".jpg")).status_code == 404
    # A post that uses it gets the size and srcset from the server, not from the client.
    async with running.client(running.token) as c:
        await c.post("/api/v1/blogs", json={"slug": "b", "title": "B"})
        r = await c.post(
            "/api/v1/blogs/b/posts",
            json={
                "headline": "Handshake",
                "media": [{**FIELDS, "url": media["url"], "width": 1, "height": 1}],
            },
        )
        assert r.status_code == 201, r.text
        shown = r.json()["media"][0]
        assert (shown["width"], shown["height"]) == (1200, 1800)
        page = (await c.get("/b")).text
        assert 'srcset="/media/' in page and "Pool/Reuters" in page
        r = await c.post(
            "/api/v1/blogs/b/posts",
            json={"headline": "x", "media": [{**FIELDS, "url": "/media/" + "a" * 32 + ".jpg"}]},
        )
        assert r.status_code == 422 and r.json()["error"]["field"] == "media.0.url"


def _truncated() -> bytes:
    whole = jpeg_with_gps(400, 300)
    return whole[: len(whole) // 2]


@pytest.mark.parametrize(
    ("data", "fields", "status"),
    [
        (b"hello, not an image", {}, 415),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", {}, 415),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', {}, 415),
        (b"", {}, 415),
        (_truncated(), {}, 422),
        (jpeg_with_gps(40, 30), {"alt": ""}, 422),
        (jpeg_with_gps(40, 30), {"caption": "  "}, 422),
        (jpeg_with_gps(40, 30), {"credit": ""}, 422),
        (jpeg_with_gps(40, 30), {"credit": "x" * 301}, 422),
    ],
    ids=["text", "pdf", "svg", "empty", "truncated", "no-alt", "no-caption", "no-credit", "long"],
)
async def test_bad_uploads_get_a_clear_error_and_store_nothing(
    running: Running, data: bytes, fields: dict[str, str], status: int
) -> None:
    got, body = await _upload(running, data, **fields)
    assert got == status, body
    assert body["error"]["message"]
    media_dir = Path(running.services.settings.media_dir)
    assert not media_dir.exists() or not any(media_dir.iterdir())


@pytest.mark.parametrize("settings_overrides", [{"max_upload_bytes": 50_000}])
async def test_oversized_uploads_and_pixel_bombs_are_refused(running: Running) -> None:
    got, body = await _upload(running, b"\xff\xd8" + b"\0" * 200_000)
    assert got == 413 and "limit" in body["error"]["message"]
    # One-bit pixels compress to a few kB: bombs once decoded. 48 Mpx is over Dateline's limit
    # (40 Mpx) but under Pillow's own; 400 Mpx is over both.
    for size in ((8_000, 6_000), (20_000, 20_000)):
        out = io.BytesIO()
        Image.new("1", size).save(out, "PNG")
        assert len(out.getvalue()) < 50_000
        got, body = await _upload(running, out.getvalue())
        assert got == 413 and "pixels" in body["error"]["message"], body


async def test_images_beyond_what_the_worker_queue_holds_are_refused_at_once() -> None:
    from dateline.errors import Unavailable
    from dateline.newsroom.uploads import ImageWorker

    worker = ImageWorker(max_waiting=2)
    try:
        await worker.run(time.sleep, 0)  # the worker process is up
        queued = [asyncio.create_task(worker.run(time.sleep, 0.5)) for _ in range(3)]
        for _ in range(500):  # one at work, two waiting
            if worker._waiting == 2:
                break
            await asyncio.sleep(0.001)
        started = time.monotonic()
        with pytest.raises(Unavailable) as refused:
            await worker.run(time.sleep, 0)
        assert time.monotonic() - started < 0.1  # told at once, not after the queue
        assert refused.value.retry_after == 5 and "2 images are waiting" in str(refused.value)
        assert await asyncio.gather(*queued) == [None, None, None]
        await worker.run(time.sleep, 0)  # room again once the queue has drained
    finally:
        worker.close()


async def test_an_upload_refused_for_a_full_queue_is_a_503_to_retry_and_stores_nothing(
    running: Running,
) -> None:
    from dateline.newsroom.uploads import ImageWorker

    worker = ImageWorker(max_waiting=0)
    running.newsroom._worker = worker
    await worker._turn.acquire()  # an image at work, and no room for another to wait
    try:
        async with running.client(running.token) as c:
            r = await c.post(
                "/api/v1/media", files={"file": ("photo.jpg", jpeg_with_gps(80, 60))}, data=FIELDS
            )
    finally:
        worker._turn.release()
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.json()["error"]["code"] == "unavailable"
    media_dir = Path(running.services.settings.media_dir)
    assert not media_dir.exists() or not any(media_dir.iterdir())
    status, body = await _upload(running, jpeg_with_gps(80, 60))  # and the next one is taken
    assert status == 201, body


async def test_uploads_need_credentials_and_multipart(running: Running) -> None:
    async with running.client() as anon:
        r = await anon.post("/api/v1/media", files={"file": ("a.jpg", jpeg_with_gps(8, 8))})
        assert r.status_code == 401
    async with running.client(running.token) as c:
        r = await c.post("/api/v1/media", json={"file": "x"})
        assert r.status_code == 415
        r = await c.post("/api/v1/media", data=FIELDS, files={"photo": ("a.jpg", b"x")})
        assert r.status_code == 400 and r.json()["error"]["field"] == "file"


# A tag the browser would run: an <img> element (not escaped text) with an onerror handler.
LIVE_IMG = re.compile(r"<img[^>]*onerror", re.IGNORECASE)
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.mark.parametrize(
    "field",
    ["title", "summary", "organisation", "authors"],
)
async def test_hostile_blog_headers_are_inert(running: Running, field: str) -> None:
    value: object = [{"name": XSS}] if field == "authors" else XSS
    body = {"slug": "h", "title": "Safe", field: value}
    async with running.client(running.token) as c:
        r = await c.post("/api/v1/blogs", json=body)
        assert r.status_code == 201, r.text
        await c.post("/api/v1/blogs/h/posts", json={"headline": "One"})
        for path in ("/h", "/h/embed", "/h/feed.atom", "/"):
            text = (await c.get(path)).text
            assert "<script>alert" not in text and not LIVE_IMG.search(text), path


@pytest.mark.parametrize(
    "post",
    [
        {"headline": XSS},
        {"headline": "b", "byline": {"people": [{"name": XSS}], "location": XSS}},
        {"headline": "c", "contributors": [XSS]},
        {"headline": "d", "media": [{"alt": XSS, "caption": XSS, "credit": XSS}]},
        {"headline": "e", "body": XSS + "\n\n[x](javascript:alert(1))"},
        {"headline": "f", "tags": [XSS[:50]]},
    ],
    ids=["headline", "byline", "contributors", "media", "body", "tags"],
)
async def test_hostile_post_fields_are_inert_everywhere_readers_look(
    seeded: Running, post: dict[str, object]
) -> None:
    async with seeded.client(seeded.token) as c:
        r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json=post)
        assert r.status_code == 201, r.text
        url = r.json()["url"]
        for path in (f"/{SLUG}", url, f"/{SLUG}/embed", f"/{SLUG}/feed.atom"):
            text = (await c.get(path)).text
            assert "<script>alert" not in text, path
            assert not LIVE_IMG.search(text), path
            assert 'href="javascript:' not in text, path


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "z", "title": "Z", "timezone": "Eastern"}, "timezone"),
        ({"slug": "z", "title": "Z", "timezone": "../../etc/passwd"}, "timezone"),
        ({"slug": "z", "title": "x" * 301}, "title"),
        ({"slug": "z", "title": "Z", "summary": "x" * 50_001}, "summary"),
        ({"slug": "Z Z", "title": "Z"}, "slug"),
        ({"slug": "newsroom", "title": "Z"}, "slug"),
    ],
)
async def test_bad_blog_input_is_refused_and_changes_nothing(
    running: Running, body: dict[str, object], field: str
) -> None:
    async with running.client(running.token) as c:
        r = await c.post("/api/v1/blogs", json=body)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text
        assert await running.store.list_blogs() == []


def _vm_peak_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def _huge_png() -> bytes:
    # 6,300 × 6,300 one-colour pixels: 40 kB on the wire, ~40 Mpx (under the editors' limit)
    # and hundreds of MB once decoded.
    out = io.BytesIO()
    Image.new("RGB", (6_300, 6_300), (30, 90, 160)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.network
async def test_a_huge_image_is_decoded_outside_the_node_and_holds_up_no_reader(
    tmp_path: Path,
) -> None:
    from tests.conftest import SEED
    from tests.nodes import Node, cli

    db = str(tmp_path / "node.db")
    cli("import", str(SEED), "--slug", "xi-putin-moscow", db=db)
    token = cli(
        "user", "create", "ed@example.org", "--name", "Ed", "--role", "editor", "--token", db=db
    ).strip().splitlines()[-1]  # fmt: skip
    node = Node(db, "memory://", tmp_path / "node.log", port=None)
    try:
        async with httpx.AsyncClient(base_url=node.base, timeout=60) as c:
            for _ in range(20):  # the node's memory once it has served pages
                assert (await c.get("/xi-putin-moscow")).status_code == 200
            before = _vm_peak_mb(node.proc.pid)
            upload = asyncio.create_task(
                c.post(
                    "/api/v1/media",
                    headers={"Authorization": f"Bearer {token}"},
                    files={"file": ("big.png", _huge_png(), "image/png")},
                    data=FIELDS,
                )
            )
            slowest = 0.0
            while not upload.done():
                began = time.monotonic()
                assert (await c.get("/xi-putin-moscow?sort=oldest")).status_code == 200
                slowest = max(slowest, time.monotonic() - began)
                await asyncio.sleep(0.02)
            r = await upload
            assert r.status_code == 201, r.text
            assert r.json()["width"] == 6_300
            assert slowest < 0.5, slowest  # readers were served while it decoded
            assert _vm_peak_mb(node.proc.pid) - before < 100  # decoded elsewhere
    finally:
        node.stop()


async def test_contributors_upload_smaller_images_than_editors(running: Running) -> None:
    token = await running.make_user("contributor")
    async with running.client(token) as c:
        r = await c.post(
            "/api/v1/media", files={"file": ("big.png", _huge_png(), "image/png")}, data=FIELDS
        )
    assert r.status_code == 413, r.text
    assert "pixels" in r.json()["error"]["message"]
