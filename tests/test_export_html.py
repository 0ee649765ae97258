"""The static HTML archive of ended coverage (`dateline export SLUG --format html`), without a
browser: what the folder holds, that every address in it resolves inside it, and that a refused
export changes nothing. tests/browser/test_static_archive.py serves it with nginx."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import extruct
import feedparser
import pytest
from PIL import Image

from dateline.bus import open_bus
from dateline.config import Settings
from dateline.errors import Conflict, Invalid
from dateline.exporters.html import MARKER, ArchiveNotWritten, HtmlExport, export_html
from dateline.model import Post, User
from dateline.newsroom import Newsroom
from dateline.store import Store

SLUG = "kyiv-summit"
EXTERNAL = "https://example.com/report?a=1&b=2"
START = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"
# What a page that stays live carries, and an archive never does.
NOTHING_LIVE = (
    "live.js", "embed.js", "embed-frame.js", "EventSource", "data-live", "data-delta", "/api/",
    f"/{SLUG}/live", "?tag=", "cursor=", "live-status", "new-posts",
)  # fmt: skip


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The archive reads through the store's list functions, tested on both engines elsewhere."""
    return f"sqlite:///{tmp_path / 'dateline.db'}"


@pytest.fixture
async def newsroom(store: Store, settings: Settings) -> AsyncIterator[Newsroom]:
    room = Newsroom(store, open_bus("memory://"), settings=settings)
    yield room
    room.close()


def photo(colour: tuple[int, int, int], width: int = 1400, height: int = 900) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG")
    return out.getvalue()


@dataclass
class Coverage:
    """What `build_blog` wrote: the published posts newest first, and what must not show."""

    editor: User
    published: list[Post]
    hidden: dict[str, Post]  # deleted, draft, scheduled
    images: set[str]  # the media files the posts show (every width)
    unused_image: str


async def build_blog(newsroom: Newsroom, *, end: bool = True) -> Coverage:
    """A blog with every kind of post a reader sees (and some they must not), then ended."""
    editor = await newsroom.create_user(
        None, email="editor@example.org", name="Olena Editor", role="admin"
    )
    await newsroom.create_blog(
        editor,
        {
            "slug": SLUG,
            "title": "Leaders meet in Kyiv <live>",
            "summary": "- Talks began at noon\n- A **joint statement** followed",
            "organisation": "Example News",
            "authors": [{"name": "Olena Editor"}, {"name": "Rob Writer"}],
            "timezone": "Europe/Kyiv",
        },
    )
    upload = await newsroom.upload_image(
        editor,
        photo((20, 90, 160)),
        {"alt": "The summit hall", "caption": "Delegates", "credit": "Pool"},
    )
    unused = await newsroom.upload_image(
        editor, photo((160, 20, 20)), {"alt": "Unused", "caption": "Never posted", "credit": "Pool"}
    )
    variants = [v["name"] for v in upload["variants"]]
    small = await newsroom.upload_image(
        editor, photo((20, 160, 20), 300, 200), {"alt": "Inline", "caption": "x", "credit": "y"}
    )
    inline = small["variants"][-1]["name"]

    def at(minutes: int) -> str:
        return (START + timedelta(minutes=minutes)).isoformat()

    written: list[dict[str, Any]] = [
        {"headline": "Talks begin", "body": "The first session opened.", "published_at": at(0)},
        {
            "headline": "The hall, pictured",
            "body": f"Read [the report]({EXTERNAL}). ![map](/media/{inline})",
            "media": [
                {
                    "url": f"/media/{variants[-1]}",
                    "alt": "The summit hall",
                    "caption": "Delegates",
                    "credit": "Pool",
                }
            ],
            "tags": ["Summit & talks"],
            "published_at": at(10),
        },
        {
            "headline": "A joint statement",
            "body": "Signed.",
            "key_event": True,
            "published_at": at(20),
        },
        {
            "headline": "<script>alert(1)</script> & more",
            "body": "Escaped </script>",
            "published_at": at(30),
        },
        {
            "headline": "Read this first",
            "body": "The day in brief.",
            "pinned": True,
            "published_at": at(40),
        },
        {"body": "No headline, just words.", "published_at": at(50)},
    ]
    posts = [await newsroom.write_post(editor, SLUG, data) for data in written]
    await newsroom.edit_post(
        editor,
        SLUG,
        posts[0].id,
        {
            "body": "The first session opened at noon.",
            "correction": "Time added.",
            "base_revision": posts[0].revision,
        },
    )
    gone = await newsroom.write_post(
        editor, SLUG, {"headline": "Retracted claim", "body": "zzretracted", "published_at": at(45)}
    )
    await newsroom.delete_post(editor, SLUG, gone.id, {"reason": "unconfirmed"})
    draft = await newsroom.write_post(
        editor, SLUG, {"headline": "Unpublished draft", "body": "zzdraft", "status": "draft"}
    )
    later = await newsroom.write_post(
        editor,
        SLUG,
        {
            "headline": "Scheduled teaser",
            "body": "zzscheduled",
            "status": "scheduled",
            "publish_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    )
    if end:
        await newsroom.update_blog(editor, SLUG, {"status": "ended"})
    # Written oldest first (published_at one step later each): the pages show them reversed.
    blog = await newsroom.store.get_blog(SLUG)
    published = [await newsroom.store.get_post(blog, p.id) for p in reversed(posts)]
    return Coverage(
        editor=editor,
        published=published,
        hidden={"deleted": gone, "draft": draft, "scheduled": later},
        images=set(variants) | {inline},
        unused_image=unused["variants"][-1]["name"],
    )


async def export(newsroom: Newsroom, settings: Settings, out: Path, **kw: str) -> HtmlExport:
    return await export_html(newsroom, SLUG, out, settings=settings, **kw)


class Links(HTMLParser):
    """Every address an HTML page gives (href, src, each srcset entry), and its scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts.append(found)
        for name in ("href", "src", "action", "poster", "data"):
            if found.get(name):
                self.urls.append(str(found[name]))
        for entry in (found.get("srcset") or "").split(","):
            if entry.strip():
                self.urls.append(entry.split()[0])


def links(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


def resolve(out: Path, url: str) -> Path | None:
    """The file a static server gives for `url` (the docs' nginx: $uri, then $uri/index.html)."""
    path = urlsplit(url).path
    assert path.startswith("/") and ".." not in path, url
    target = out / path.lstrip("/")
    for candidate in (target, target / "index.html"):
        if candidate.is_file() and candidate.resolve().is_relative_to(out.resolve()):
            return candidate
    return None


def assert_inside(out: Path, url: str, where: object) -> None:
    """`url` is a file of the archive, or the outside address a post's text links to."""
    if url.startswith(("http://", "https://")):
        assert url == EXTERNAL, (where, url)
    else:
        assert resolve(out, url) is not None, (where, url)


def stream_ids(html: str) -> list[str]:
    stream = html.split('id="stream"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<article [^>]*data-post-id="([^"]+)"', stream)


def files_of(out: Path) -> dict[str, Path]:
    return {str(p.relative_to(out)): p for p in sorted(out.rglob("*")) if p.is_file()}


async def test_the_archive_holds_every_page_at_the_live_sites_paths(
    newsroom: Newsroom, settings: Settings, tmp_path: Path
) -> None:
    coverage = await build_blog(newsroom)
    out = tmp_path / "archive"
    done = await export(newsroom, settings, out)
    ids = [p.id for p in coverage.published]
    expected = {
        f"{SLUG}/index.html", f"{SLUG}/oldest/index.html", f"{SLUG}/feed.atom",
        f"{SLUG}/embed/index.html", "static/dateline.css", "favicon.ico", MARKER,
        *(f"{SLUG}/posts/{i}/index.html" for i in ids),
        *(f"media/{name}" for name in coverage.images),
    }  # fmt: skip
    found = files_of(out)
    assert set(found) == expected
    # Only the pictures the posts show, every srcset width of them; never an unused upload.
    assert coverage.unused_image not in {p.name for p in found.values()}
    assert len(coverage.images) >= 4
    assert done.images == len(coverage.images) and done.pages == len(ids) + 3
    assert done.files == len(expected) and done.missing_images == () and not done.replaced
    assert done.bytes == sum(p.stat().st_size for p in found.values())
    # What the web server (another user) reads: files 0644, folders 0755; nothing left beside.
    for path in [out, *out.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]
    assert json.loads(found[MARKER].read_text())["slug"] == SLUG


async def test_every_address_in_the_archive_resolves_inside_it(
    newsroom: Newsroom, settings: Settings, tmp_path: Path
) -> None:
    await build_blog(newsroom)
    out = tmp_path / "archive"
    await export(newsroom, settings, out)
    pages = list(out.rglob("*.html"))
    assert len(pages) > 5
    for page in pages:
        html = page.read_text("utf-8")
        found = links(html)
        # No script runs: the one <script> is the JSON-LD, data for search engines.
        assert [s.get("type") for s in found.scripts] == ["application/ld+json"] or (
            page.parent.name == "embed" and found.scripts == []
        ), (page, found.scripts)
        for word in NOTHING_LIVE:
            assert word not in html, (page, word)
        for url in found.urls:
            if url.startswith("#"):
                # "Shown pinned above" is shown (by the CSS) only where the pinned slot is.
                hidden = url == "#pinned" and 'id="pinned"' not in html
                assert hidden or f'id="{url[1:]}"' in html, (page, url)
            else:
                assert_inside(out, url, page)
    feed = ET.parse(out / SLUG / "feed.atom").getroot()
    for link in feed.iter(f"{ATOM}link"):
        assert_inside(out, link.attrib["href"], "feed")
    for content in feed.iter(f"{ATOM}content"):
        # (The live feed's entries carry the pinned post's hidden "#pinned" link too.)
        for url in links(content.text or "").urls:
            if url != "#pinned":
                assert_inside(out, url, "feed entry")


async def test_the_pages_show_every_post_once_in_order_and_nothing_unpublished(
    newsroom: Newsroom, settings: Settings, tmp_path: Path
) -> None:
    coverage = await build_blog(newsroom)
    out = tmp_path / "archive"
    await export(newsroom, settings, out)
    newest = [p.id for p in coverage.published]
    page = (out / SLUG / "index.html").read_text()
    oldest = (out / SLUG / "oldest" / "index.html").read_text()
    assert stream_ids(page) == newest
    assert stream_ids(oldest) == newest[::-1]
    assert "Load more" not in page and "Newest posts" not in oldest
    # The Sort by control links the two pages of the archive.
    assert f'<a href="/{SLUG}/oldest">Oldest first</a>' in page
    assert f'<a href="/{SLUG}">Newest first</a>' in oldest
    # Tags are words here: the archive has no filter to link to.
    assert '<ul class="post__tags" aria-label="Tags"><li>Summit &amp; talks</li></ul>' in page
    assert "This live coverage has ended." in page and "Key events" in page
    assert 'id="pinned"' in page and "Read this first" in page
    assert "Time added." in page  # the correction note of an edit
    # Escaped as everywhere else: the headline is text, and it cannot close the JSON-LD.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert "<script>alert" not in page and "Leaders meet in Kyiv &lt;live&gt;" in page
    for post in coverage.published:
        permalink = (out / SLUG / "posts" / post.id / "index.html").read_text()
        assert f'data-post-id="{post.id}"' in permalink and permalink.count("<article") == 1
        assert post.body_html in permalink
    texts = [p for p in files_of(out).values() if p.suffix in (".html", ".atom", ".json")]
    everything = "\n".join(p.read_text("utf-8") for p in texts)
    for post in coverage.hidden.values():
        assert (
            post.id not in everything
            and post.body not in everything
            and post.headline not in everything
        )


async def test_structured_data_and_the_feed_cover_the_whole_archive(
    newsroom: Newsroom, settings: Settings, tmp_path: Path
) -> None:
    coverage = await build_blog(newsroom)
    out = tmp_path / "archive"
    await export(newsroom, settings, out)
    html = (out / SLUG / "index.html").read_text()
    (blog,) = extruct.extract(html, syntaxes=["json-ld"])["json-ld"]
    assert blog["@type"] == "LiveBlogPosting" and blog["url"] == f"/{SLUG}"
    assert blog["coverageEndTime"] and blog["coverageStartTime"]
    assert [u["url"] for u in blog["liveBlogUpdate"]] == [
        f"/{SLUG}/posts/{p.id}" for p in coverage.published
    ]
    post = coverage.published[0]
    (item,) = extruct.extract(
        (out / SLUG / "posts" / post.id / "index.html").read_text(), syntaxes=["json-ld"]
    )["json-ld"]
    assert item["@type"] == "BlogPosting" and item["isPartOf"]["url"] == f"/{SLUG}"
    # Atom: well-formed XML with every published post, newest first.
    root = ET.parse(out / SLUG / "feed.atom").getroot()
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == [
        f"/{SLUG}/posts/{p.id}" for p in coverage.published
    ]
    parsed = feedparser.parse((out / SLUG / "feed.atom").read_bytes())
    assert not parsed.bozo and len(parsed.entries) == len(coverage.published)
    assert "?tag=" not in (out / SLUG / "feed.atom").read_text()


async def test_with_the_public_origin_the_archive_names_the_live_sites_urls(
    newsroom: Newsroom, settings: Settings, tmp_path: Path
) -> None:
    coverage = await build_blog(newsroom)
    origin = "https://live.example.org"
    out = tmp_path / "archive"
    await export(newsroom, settings, out, origin=origin + "/")
    html = (out / SLUG / "index.html").read_text()
    assert f'<link rel="canonical" href="{origin}/{SLUG}">' in html
    assert f'<meta property="og:url" content="{origin}/{SLUG}">' in html
    (blog,) = extruct.extract(html, syntaxes=["json-ld"])["json-ld"]
    assert blog["url"] == f"{origin}/{SLUG}"
    # The feed's entry ids are the live feed's, so feed readers see no "new" entries.
    root = ET.parse(out / SLUG / "feed.atom").getroot()
    ids = [e.findtext(f"{ATOM}id") for e in root.findall(f"{ATOM}entry")]
    assert ids == [f"{origin}/{SLUG}/posts/{p.id}" for p in coverage.published]
    # Links between the pages stay paths: the archive works wherever it is served.
    assert f'<a href="/{SLUG}/oldest">' in html
    for bad in ("live.example.org", "ftp://x.org", "https://x.org/path", "https://x.org/?q=1"):
        with pytest.raises(Invalid, match="scheme and host"):
            await export(newsroom, settings, tmp_path / "other", origin=bad)
    assert not (tmp_path / "other").exists()


async def test_only_ended_coverage_is_archived(
    newsroom: Newsroom, settings: Settings, tmp_path: Path
) -> None:
    coverage = await build_blog(newsroom, end=False)
    out = tmp_path / "archive"
    with pytest.raises(Conflict, match="still live; end it first"):
        await export(newsroom, settings, out)
    await newsroom.create_blog(
        coverage.editor, {"slug": "hidden", "title": "Draft", "status": "draft"}
    )
    with pytest.raises(Conflict, match="is a draft"):
        await export_html(newsroom, "hidden", out, settings=settings)
    assert not out.exists()


async def test_a_refused_export_changes_nothing_and_a_reexport_replaces_the_archive(
    newsroom: Newsroom, settings: Settings, tmp_path: Path
) -> None:
    coverage = await build_blog(newsroom)

    def snapshot(folder: Path) -> dict[str, bytes]:
        return {name: path.read_bytes() for name, path in files_of(folder).items()}

    # A folder with other things in it is not written into.
    other = tmp_path / "site"
    other.mkdir()
    (other / "index.html").write_text("<p>Our homepage</p>")
    with pytest.raises(Conflict, match="not empty and is not a Dateline archive") as refused:
        await export(newsroom, settings, other)
    assert "nothing was changed" in refused.value.message
    assert snapshot(other) == {"index.html": b"<p>Our homepage</p>"}
    # Nor is a file, or a folder that cannot be made.
    (tmp_path / "file").write_text("x")
    with pytest.raises(Conflict, match="is a file"):
        await export(newsroom, settings, tmp_path / "file")
    with pytest.raises(ArchiveNotWritten, match=r"could not be written.*nothing was changed"):
        await export(newsroom, settings, tmp_path / "file" / "archive")
    assert (tmp_path / "file").read_text() == "x"
    # An empty folder is filled; the archive is then replaced by a re-export.
    out = tmp_path / "archive"
    out.mkdir()
    await export(newsroom, settings, out)
    before = snapshot(out)
    post = coverage.published[0]
    await newsroom.edit_post(
        coverage.editor,
        SLUG,
        post.id,
        {
            "body": "Edited after the end.",
            "correction": "Later note.",
            "base_revision": post.revision,
        },
    )
    again = await export(newsroom, settings, out)
    assert again.replaced
    after = snapshot(out)
    assert set(after) == set(before) and after != before
    assert "Edited after the end." in (out / SLUG / "posts" / post.id / "index.html").read_text()
    # An archive with files added beside it, or another blog's, is refused and left as it is.
    (out / "robots.txt").write_text("User-agent: *")
    with pytest.raises(Conflict, match=r"other files \(robots.txt\)"):
        await export(newsroom, settings, out)
    (out / "robots.txt").unlink()
    marker = json.loads((out / MARKER).read_text())
    (out / MARKER).write_text(json.dumps({**marker, "slug": "another-blog"}))
    with pytest.raises(Conflict, match="archive of blog 'another-blog'"):
        await export(newsroom, settings, out)
    assert {n for n in snapshot(out) if n != MARKER} == {n for n in after if n != MARKER}
    # No temporary folder is left beside the archive, whatever happened.
    assert not [n for n in os.listdir(tmp_path) if n.endswith((".partial", ".old"))]


async def test_an_image_missing_from_the_media_folder_is_reported(
    newsroom: Newsroom, settings: Settings, tmp_path: Path
) -> None:
    coverage = await build_blog(newsroom)
    name = sorted(coverage.images)[0]
    (Path(settings.media_dir) / name).unlink()
    done = await export(newsroom, settings, tmp_path / "archive")
    assert done.missing_images == (name,)
    assert not (tmp_path / "archive" / "media" / name).exists()
