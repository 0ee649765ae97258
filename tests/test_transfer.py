"""Whole blogs in and out: imports checked like API posts and written in batches into a hidden
blog; the `dateline-archive/1` round trip between SQLite and PostgreSQL; archives that are
damaged, altered or hostile are refused and change nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dateline.bus import open_bus
from dateline.config import Settings
from dateline.errors import Conflict, Forbidden, ImportFailed, Invalid, NotFound
from dateline.exporters.archive import NOT_ARCHIVED, export_archive
from dateline.importers import ImportedBlog, ImportedPost
from dateline.importers.archive import Archive, BlogRecord, PostRecord
from dateline.model import Blog, BlogStatus, Post, PostStatus, Revision
from dateline.newsroom import Newsroom
from dateline.newsroom.imports import HOLD
from dateline.store import Store, open_store
from dateline.store import schema as t
from tests.servers import PostgresServer
from tests.test_animated_uploads import gif
from tests.test_uploads import jpeg_with_gps


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


_START = _utc(2024, 5, 1, 8)


def _posts(n: int, *, start: datetime = _START) -> Iterator[Post]:
    """n posts, newest first (as live pages list them)."""
    for i in range(n, 0, -1):
        when = start + timedelta(minutes=i)
        yield Post(
            blog_slug="",
            headline=f"Update {i}",
            body=f"Body of update {i}.",
            status=PostStatus.PUBLISHED,
            published_at=when,
        )


def _blog(slug: str = "big-story", title: str = "A big story") -> Blog:
    return Blog(slug=slug, title=title, timezone="Europe/Kyiv", status=BlogStatus.LIVE)


async def _counts(store: Store) -> dict[str, int]:
    async with store.engines.reading() as conn:
        return {
            name: int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
            for name, table in (
                ("blogs", t.blogs),
                ("posts", t.posts),
                ("revisions", t.revisions),
                ("events", t.events),
                ("users", t.users),
                ("memberships", t.memberships),
                ("media", t.media),
            )
        }


# -- imports from other places ------------------------------------------------------------


async def test_an_import_is_written_in_batches_with_events_in_time_order(
    store: Store, offline_newsroom: Newsroom
) -> None:
    seen: list[tuple[str, int]] = []

    def progress(stage: str, done: int, total: int | None) -> None:
        seen.append((stage, done))

    blog = await offline_newsroom.import_blog(
        ImportedBlog(_blog(), _posts(1200)), progress=progress, batch=500
    )
    assert blog.post_count == 1200 and blog.last_seq == 1200 and blog.status is BlogStatus.LIVE
    counts = [done for stage, done in seen if stage == "posts"]
    assert len(counts) >= 3 and counts == sorted(counts) and counts[-1] == 1200
    assert blog.coverage_start == _utc(2024, 5, 1, 8, 1)
    events = await store.events_after(blog.id or 0, 0, limit=2000)
    # The file listed the newest first; the log runs oldest first all the same.
    assert [e.payload["post"]["headline"] for e in events[:3]] == [
        "Update 1", "Update 2", "Update 3",
    ]  # fmt: skip
    assert [e.seq for e in events] == list(range(1, 1201))
    assert all(e.payload["post"]["url"].startswith("/big-story/posts/") for e in events)
    first, _ = await store.list_posts(blog, newest_first=False, limit=1)
    assert first[0].seq == 1 and first[0].body_html == "<p>Body of update 1.</p>"
    assert (await store.list_revisions(blog, first[0].id))[0].headline == "Update 1"


async def test_a_file_that_breaks_half_way_imports_nothing(
    store: Store, offline_newsroom: Newsroom
) -> None:
    before = await _counts(store)
    seen: list[tuple[int, int]] = []
    write = store.add_imported

    async def write_and_look(*args: Any) -> None:
        await write(*args)
        # Between batches the blog is nowhere to be seen, by slug or in a list.
        with pytest.raises(NotFound):
            await store.get_blog("big-story")
        seen.append((len(await store.list_blogs()), (await _counts(store))["posts"]))

    def posts() -> Iterator[Post]:
        yield from _posts(1200)
        raise ImportFailed("this line makes no sense", line=9999)

    store.add_imported = write_and_look  # type: ignore[method-assign]
    with pytest.raises(ImportFailed, match="line 9999"):
        await offline_newsroom.import_blog(ImportedBlog(_blog(), posts()), batch=500)
    # Several batches were written (none of them visible) before the file broke.
    assert len(seen) >= 2 and all(blogs == 0 for blogs, _ in seen)
    assert [posts for _, posts in seen] == sorted(posts for _, posts in seen)
    assert await _counts(store) == before


async def test_on_sqlite_batches_shrink_until_one_holds_the_write_lock_briefly(
    store: Store, offline_newsroom: Newsroom
) -> None:
    sizes: list[int] = []
    write = store.add_imported

    async def slow_when_large(hidden: Any, pending: list[Any]) -> None:
        sizes.append(len(pending))
        await write(hidden, pending)
        if len(pending) > 100:  # a big batch keeps the lock too long
            await asyncio.sleep(HOLD * 2)

    store.add_imported = slow_when_large  # type: ignore[method-assign]
    blog = await offline_newsroom.import_blog(ImportedBlog(_blog(), _posts(1500)), batch=500)
    assert blog.post_count == 1500 and sum(sizes) == 1500
    if store.dialect == "sqlite":
        assert sizes[:4] == [500, 250, 125, 62]  # halved while a batch took too long
        assert max(sizes[4:]) <= 124  # and never large again once quick
    else:  # PostgreSQL locks rows: a live node's writes never wait for a batch
        assert sizes == [500, 500, 500]


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("../../etc/passwd", "lowercase letters, digits and hyphens"),
        ("newsroom", "reserved"),
        ("UPPER Case", "lowercase letters"),
        ("", "lowercase letters"),
    ],
)
async def test_bad_slugs_are_refused_before_anything_is_written(
    store: Store, offline_newsroom: Newsroom, slug: str, message: str
) -> None:
    before = await _counts(store)
    with pytest.raises(Invalid, match=message):
        await offline_newsroom.import_blog(ImportedBlog(_blog(slug=slug), _posts(3)))
    assert await _counts(store) == before


def _hostile(change: dict[str, Any]) -> Iterator[Post]:
    posts = list(_posts(3))
    for name, value in change.items():
        setattr(posts[1], name, value)
    return iter(posts)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"headline": "x" * 1_000_000}, "post 2 .*headline: .*at most 300"),
        ({"headline": "NUL \x00 inside"}, "post 2 .*headline: must not contain control"),
        ({"body": "escape \x1b[31m red"}, "post 2 .*body: must not contain control"),
        ({"published_at": _utc(2099, 1, 1)}, "post 2 .*published_at: must not be in the future"),
        ({"published_at": _utc(1850, 1, 1)}, "post 2 .*published_at: must be after 1900"),
        ({"tags": ["t"] * 21}, "post 2 .*tags"),
        ({"published_at": datetime(2024, 5, 1, 8)}, "post 2 .*published_at: .*offset"),
    ],
)
async def test_posts_are_checked_like_api_posts_and_a_bad_one_imports_nothing(
    store: Store, offline_newsroom: Newsroom, change: dict[str, Any], message: str
) -> None:
    before = await _counts(store)
    with pytest.raises(Invalid, match=message):
        await offline_newsroom.import_blog(ImportedBlog(_blog(), _hostile(change)))
    assert await _counts(store) == before


async def test_a_title_too_long_for_the_api_is_refused(
    store: Store, offline_newsroom: Newsroom
) -> None:
    with pytest.raises(Invalid, match="the blog: title"):
        await offline_newsroom.import_blog(ImportedBlog(_blog(title="t" * 301), _posts(1)))
    assert await store.list_blogs() == []


async def test_earlier_versions_and_deletions_are_kept_as_revisions(
    store: Store, offline_newsroom: Newsroom
) -> None:
    edited = Post(
        blog_slug="",
        headline="Second version",
        body="Now with the right figure: 12.",
        status=PostStatus.PUBLISHED,
        published_at=_utc(2024, 5, 1, 9),
        updated_at=_utc(2024, 5, 1, 9, 30),
    )
    first = Revision(
        post_id="", number=0, user_id=None, created_at=_utc(2024, 5, 1, 9),
        headline="First version", body="The figure: 21.", user_name="Jane Doe",
    )  # fmt: skip
    gone = Post(
        blog_slug="",
        headline="Retracted",
        body="Wrong.",
        status=PostStatus.DELETED,
        published_at=_utc(2024, 5, 1, 8),
        delete_reason="deleted at the source",
    )
    blog = await offline_newsroom.import_blog(
        ImportedBlog(_blog(), [ImportedPost(edited, [first]), gone])
    )
    assert blog.post_count == 1 and blog.last_seq == 1
    posts, _ = await store.list_posts(blog, statuses=tuple(PostStatus))
    by_headline = {p.headline: p for p in posts}
    assert by_headline["Retracted"].status is PostStatus.DELETED
    kept = by_headline["Second version"]
    assert kept.revision == 2
    history = await store.list_revisions(blog, kept.id)
    assert [(r.number, r.headline) for r in history] == [
        (1, "First version"), (2, "Second version"),
    ]  # fmt: skip


async def test_a_slug_taken_while_importing_is_refused_at_the_end(
    store: Store, offline_newsroom: Newsroom
) -> None:
    admin = await offline_newsroom.create_user(None, email="a@example.org", name="A", role="admin")

    def posts() -> Iterator[Post]:
        yield from _posts(2)

    imported = ImportedBlog(_blog(), posts())
    taken = False

    def progress(stage: str, done: int, total: int | None) -> None:
        nonlocal taken
        taken = True

    # Someone creates the blog by hand while the import runs (between its batches).
    async def race() -> None:
        await offline_newsroom.create_blog(admin, {"slug": "big-story", "title": "By hand"})

    original = offline_newsroom.store.log_imported

    async def log_then_race(*args: Any, **kwargs: Any) -> Any:
        await race()
        async for done in original(*args, **kwargs):
            yield done

    offline_newsroom.store.log_imported = log_then_race  # type: ignore[method-assign]
    with pytest.raises(Conflict, match="already exists"):
        await offline_newsroom.import_blog(imported, progress=progress)
    assert [b.title for b in await store.list_blogs()] == ["By hand"]
    assert (await _counts(store))["posts"] == 0


# -- the archive ------------------------------------------------------------------------------


async def _rich_blog(newsroom: Newsroom) -> tuple[str, dict[str, Any]]:
    """A blog with everything an archive must carry: posts in every status, edits with
    correction notes, a retraction, flags, tags, an uploaded image, members of each role, a
    header change and the end of coverage."""
    admin = await newsroom.create_user(
        None, email="admin@example.org", name="Ada Admin", role="admin"
    )
    editor = await newsroom.create_user(
        None, email="ed@example.org", name="Ed Editor", role="editor", password="a long password"
    )
    writer = await newsroom.create_user(
        None, email="co@example.org", name="Cory Contributor", role="contributor"
    )
    await newsroom.create_blog(
        admin,
        {"slug": "floods", "title": "Floods in the valley", "timezone": "Europe/Berlin",
         "summary": "What we know", "organisation": "The Gazette",
         "authors": [{"name": "Ed Editor"}]},
    )  # fmt: skip
    for who in (editor, writer):
        await newsroom.add_member(None, "floods", who.email)
    upload = await newsroom.upload_image(
        editor,
        jpeg_with_gps(),
        {"alt": "A flooded street", "caption": "Water", "credit": "Gazette"},
    )
    image = {"url": "/media/" + upload["variants"][-1]["name"], "alt": "A flooded street",
             "caption": "Water in the old town", "credit": "Gazette"}  # fmt: skip
    first = await newsroom.write_post(
        editor, "floods",
        {"headline": "River breaks its banks", "body": "The **river** rose overnight.",
         "status": "published", "media": [image], "tags": ["rescue"], "key_event": True,
         "byline": {"people": [{"name": "Ed Editor"}], "location": "Dresden"}},
    )  # fmt: skip
    await newsroom.edit_post(
        editor, "floods", first.id,
        {"body": "The **river** rose 2 m overnight.", "correction": "Added the height.",
         "base_revision": 1},
    )  # fmt: skip
    pinned = await newsroom.write_post(
        editor, "floods", {"headline": "How to help", "body": "Call 112.", "status": "published",
                           "pinned": True},
    )  # fmt: skip
    retracted = await newsroom.write_post(
        editor, "floods", {"headline": "Dam broke", "body": "Unconfirmed.", "status": "published"}
    )
    await newsroom.delete_post(editor, "floods", retracted.id, {"reason": "Not confirmed"})
    draft = await newsroom.write_post(
        writer, "floods", {"headline": "Notes", "body": "Draft.", "status": "draft"}
    )
    submitted = await newsroom.write_post(
        writer, "floods", {"headline": "From the shelter", "body": "Quiet.", "status": "submitted"}
    )
    scheduled = await newsroom.write_post(
        editor, "floods",
        {"headline": "Tomorrow's plan", "body": "Later.", "status": "scheduled",
         "publish_at": (datetime.now(UTC) + timedelta(days=2)).isoformat(), "notify": True},
    )  # fmt: skip
    box = {"kind": "election", "sides": [{"name": "Yes"}, {"name": "No", "score": 3}]}
    await newsroom.update_blog(editor, "floods", {"score": box})
    await newsroom.change_score(editor, "floods", {"side": 0, "by": 2, "status": "Counting"})
    await newsroom.update_blog(editor, "floods", {"title": "Floods in the valley: day 2"})
    await newsroom.update_blog(editor, "floods", {"status": "ended"})
    return "floods", {
        "ids": [first.id, pinned.id, retracted.id, draft.id, submitted.id, scheduled.id],
        "files": {v["name"] for v in upload["variants"]},
    }


def _newsroom(store: Store, media: Path) -> Newsroom:
    return Newsroom(store, open_bus("memory://"), settings=Settings(media_dir=str(media)))


def _files(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def _comparable(files: dict[str, bytes]) -> dict[str, Any]:
    header = json.loads(files["archive.json"])
    header.pop("exported_at")
    return {**files, "archive.json": header}


@pytest.fixture
def other_database(database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on the other engine: PostgreSQL for a SQLite test, and back."""
    if database_url.startswith("sqlite"):
        server: PostgresServer = request.getfixturevalue("postgres")
        source: str = request.getfixturevalue("postgres_template")
        return server.create_database(f"other{os.getpid()}_{id(tmp_path)}", template=source)
    target = tmp_path / "other.db"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
    return f"sqlite:///{target}"


@pytest.mark.postgres
async def test_an_archive_round_trips_between_sqlite_and_postgresql(
    store: Store, other_database: str, tmp_path: Path
) -> None:
    newsroom = _newsroom(store, tmp_path / "media-a")
    slug, made = await _rich_blog(newsroom)
    first = await export_archive(newsroom, None, slug, tmp_path / "a.tar.gz")
    assert (first.posts, first.files) == (6, len(made["files"]))
    files = _files(first.path)
    header = json.loads(files["archive.json"])
    assert header["format"] == "dateline-archive/1"
    assert {p["email"]: (p["role"], p["member"]) for p in header["people"]} == {
        "admin@example.org": ("admin", True),  # the blog's creator
        "ed@example.org": ("editor", True),
        "co@example.org": ("contributor", True),
    }
    posts = [json.loads(line) for line in files["posts.jsonl"].splitlines()]
    assert {p["status"] for p in posts} == {
        "published", "deleted", "draft", "submitted", "scheduled",
    }  # fmt: skip
    edited = next(p for p in posts if p["headline"] == "River breaks its banks")
    assert [r["note"] for r in edited["revisions"]] == [None, "Added the height."]
    assert edited["revisions"][0]["body"] == "The **river** rose overnight."
    assert edited["author"] == "ed@example.org"

    other = await open_store(other_database)
    try:
        restoring = _newsroom(other, tmp_path / "media-b")
        with Archive(first.path) as archive:
            restored = await restoring.restore_archive(archive)
        # Nobody of the archive had an account there: each is made, and let in by an admin.
        assert sorted(restored.new_accounts) == [
            "admin@example.org", "co@example.org", "ed@example.org",
        ]  # fmt: skip
        ed = await other.get_user_by_email("ed@example.org")
        assert ed is not None and not ed.active and ed.password_hash is None
        blog = restored.blog
        assert (blog.slug, blog.status, blog.post_count) == ("floods", BlogStatus.ENDED, 2)
        assert blog.score is not None and blog.score.to_json() == header["blog"]["score"]
        assert header["blog"]["score"] == {
            "kind": "election", "status": "Counting",
            "sides": [{"name": "Yes", "score": 2}, {"name": "No", "score": 3}],
        }  # fmt: skip
        assert sorted(p.name for p in (tmp_path / "media-b").iterdir()) == sorted(made["files"])
        again = await export_archive(restoring, None, slug, tmp_path / "b.tar.gz")
        # The same archive, byte for byte, but for the time of the export.
        assert _comparable(_files(again.path)) == _comparable(files)
        # Readers of the restored blog get the event log's payloads, rebuilt from the posts.
        events = await other.events_after(blog.id or 0, 0)
        assert [e.type.value for e in events][-2:] == ["blog.updated", "blog.ended"]
        retracted = next(e for e in events if e.post_id == made["ids"][2])
        assert "body" not in retracted.payload["post"]  # a retraction's words do not travel
    finally:
        await other.close()


async def test_an_archive_folder_restores_under_another_slug(store: Store, tmp_path: Path) -> None:
    newsroom = _newsroom(store, tmp_path / "media")
    slug, made = await _rich_blog(newsroom)
    out = tmp_path / "folder"
    out.mkdir()
    await export_archive(newsroom, None, slug, out, folder=True)
    assert (out / "archive.json").is_file() and (out / "posts.jsonl").is_file()
    with Archive(out) as archive, pytest.raises(Conflict, match="already exists"):
        await newsroom.restore_archive(archive)
    with Archive(out) as archive, pytest.raises(Conflict, match="restored once"):
        # The posts' ids are this store's already: an archive is restored once per store.
        await newsroom.restore_archive(archive, slug="floods-copy")
    elsewhere = await open_store(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    try:
        with Archive(out) as archive:
            restored = await _newsroom(elsewhere, tmp_path / "m2").restore_archive(
                archive, slug="floods-copy"
            )
        blog = restored.blog
        assert blog.slug == "floods-copy"
        events = await elsewhere.events_after(blog.id or 0, 0)
        urls = [e.payload["post"]["url"] for e in events if "post" in e.payload]
        assert urls and all(u.startswith("/floods-copy/posts/") for u in urls)
        assert events[-1].payload["blog"]["url"] == "/floods-copy"
        post = await elsewhere.get_post(blog, made["ids"][0])
        assert post.blog_slug == "floods-copy" and post.revision == 2
        # A scheduled post still tells the blog's followers when it goes out.
        scheduled = await elsewhere.get_post(blog, made["ids"][5])
        assert scheduled.status is PostStatus.SCHEDULED and scheduled.notify
        quiet = await elsewhere.get_post(blog, made["ids"][1])
        assert not quiet.notify
    finally:
        await elsewhere.close()


def test_an_archive_carries_every_field_of_a_blog_and_a_post_but_those_it_says_why_not() -> None:
    # A field added to the model must be archived, or named in NOT_ARCHIVED with the reason.
    post_fields = {f.name for f in dataclasses.fields(Post)}
    archived = set(PostRecord.model_fields) - {"author", "revisions"} | {"author_id"}
    assert post_fields - set(NOT_ARCHIVED["post"]) == archived
    assert set(NOT_ARCHIVED["post"]) <= post_fields
    blog_fields = {f.name for f in dataclasses.fields(Blog)}
    assert blog_fields - set(NOT_ARCHIVED["blog"]) == set(BlogRecord.model_fields)
    assert set(NOT_ARCHIVED["blog"]) <= blog_fields


async def test_a_change_that_lands_during_an_export_is_in_it_whole(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Posts and events are read in batches: a post published between the two passes used to
    # leave an event past the header's last seq, and the archive could not be restored.
    newsroom = _newsroom(store, tmp_path / "media")
    admin = await newsroom.create_user(None, email="a@example.org", name="Ada", role="admin")
    await newsroom.create_blog(admin, {"slug": "busy", "title": "A busy day"})
    await newsroom.write_post(admin, "busy", {"headline": "One", "status": "published"})
    real = store.events_for_export
    landed: list[Post] = []

    async def meanwhile(blog: Blog) -> Any:
        if not landed:
            landed.append(
                await newsroom.write_post(admin, "busy", {"headline": "Two", "status": "published"})
            )
        async for batch in real(blog):
            yield batch

    monkeypatch.setattr(store, "events_for_export", meanwhile)
    out = tmp_path / "archive"
    out.mkdir()
    exported = await export_archive(newsroom, None, "busy", out, folder=True)
    assert landed and exported.posts == 2
    elsewhere = await open_store(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    try:
        with Archive(out) as archive:
            restored = await _newsroom(elsewhere, tmp_path / "m2").restore_archive(archive)
        copy = await elsewhere.get_post(restored.blog, landed[0].id or 0)
        assert copy.headline == "Two"
        source = await store.get_blog("busy")
        assert restored.blog.last_seq == source.last_seq
    finally:
        await elsewhere.close()


async def test_only_editors_of_the_blog_export_it(store: Store, tmp_path: Path) -> None:
    newsroom = _newsroom(store, tmp_path / "media")
    slug, _ = await _rich_blog(newsroom)
    writer = await store.get_user_by_email("co@example.org")
    outsider = await newsroom.create_user(None, email="other@example.org", name="O", role="editor")
    assert writer is not None
    with pytest.raises(Forbidden, match="contributors cannot export"):
        await export_archive(newsroom, writer, slug, tmp_path / "x.tar.gz")
    with pytest.raises(Forbidden, match="not a member"):
        await export_archive(newsroom, outsider, slug, tmp_path / "x.tar.gz")
    assert not (tmp_path / "x.tar.gz").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dateline")] == []


async def test_an_animated_image_travels_with_its_poster_and_restores_elsewhere(
    store: Store, tmp_path: Path
) -> None:
    newsroom = _newsroom(store, tmp_path / "media")
    editor = await newsroom.create_user(None, email="ed@example.org", name="Ed", role="editor")
    await newsroom.create_blog(editor, {"slug": "storm", "title": "The storm"})
    words = {"alt": "Radar", "caption": "The rain band", "credit": "Weather service"}
    loop = await newsroom.upload_image(editor, gif(), words)
    url = "/media/" + loop["variants"][-1]["name"]
    post = await newsroom.write_post(
        editor,
        "storm",
        {"headline": "Radar", "status": "published", "media": [{"url": url, **words}]},
    )
    assert post.media[0].poster == "/media/" + loop["poster"]["variants"][-1]["name"]
    done = await export_archive(newsroom, None, "storm", tmp_path / "storm.tar.gz")
    files = _files(done.path)
    names = {v["name"] for v in (*loop["variants"], *loop["poster"]["variants"])}
    assert {n.removeprefix("media/") for n in files if n.startswith("media/")} == names
    [upload] = json.loads(files["archive.json"])["uploads"]
    assert upload["animated"] is True and upload["poster"] == loop["poster"]
    elsewhere = await open_store(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    try:
        with Archive(done.path) as archive:
            restored = await _newsroom(elsewhere, tmp_path / "m2").restore_archive(archive)
        assert (await elsewhere.get_post(restored.blog, post.id)).media == post.media
        record = await elsewhere.get_media(loop["key"])
        assert record is not None and record["animated"] is True
        assert record["poster"] == loop["poster"]
        assert sorted(p.name for p in (tmp_path / "m2").iterdir()) == sorted(names)
    finally:
        await elsewhere.close()


# -- hostile and damaged archives ---------------------------------------------------------------


def _retar(files: dict[str, bytes], target: Path, *, extra: list[tarfile.TarInfo] = ()) -> Path:  # type: ignore[assignment]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    target.write_bytes(buf.getvalue())
    return target


def _with_header(files: dict[str, bytes], change: Any) -> dict[str, bytes]:
    header = json.loads(files["archive.json"])
    change(header)
    return {**files, "archive.json": json.dumps(header).encode()}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tamper_post(files: dict[str, bytes], change: Any) -> dict[str, bytes]:
    """Change the first post and fix the checksums, as a forger would."""
    lines = files["posts.jsonl"].splitlines()
    post = json.loads(lines[0])
    change(post)
    lines[0] = json.dumps(post).encode()
    data = b"\n".join(lines) + b"\n"

    def fix(header: dict[str, Any]) -> None:
        for f in header["files"]:
            if f["name"] == "posts.jsonl":
                f["size"], f["sha256"] = len(data), _sha(data)

    return _with_header({**files, "posts.jsonl": data}, fix)


def _link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


@pytest.fixture
async def archived(store: Store, tmp_path: Path) -> tuple[dict[str, bytes], Path]:
    """The files of a rich blog's archive, exported from a store of its own."""
    source = await open_store(f"sqlite:///{tmp_path / 'source.db'}")
    try:
        newsroom = _newsroom(source, tmp_path / "source-media")
        slug, _ = await _rich_blog(newsroom)
        done = await export_archive(newsroom, None, slug, tmp_path / "good.tar.gz")
    finally:
        await source.close()
    return _files(done.path), tmp_path


def _media_name(files: dict[str, bytes]) -> str:
    return next(n for n in files if n.startswith("media/"))


BROKEN: dict[str, tuple[Any, str]] = {
    "wrong format version": (
        lambda f, p: _retar(_with_header(f, lambda h: h.update(format="dateline-archive/2")), p),
        "format is 'dateline-archive/2'",
    ),
    "not an archive": (lambda f, p: (p.write_bytes(b"hello"), p)[1], "truncated or damaged"),
    "truncated": (
        lambda f, p: (p.write_bytes(_retar(f, p).read_bytes()[:-3000]), p)[1],
        "truncated or damaged|does not match its checksum",
    ),
    "a missing media file": (
        lambda f, p: _retar({k: v for k, v in f.items() if k != _media_name(f)}, p),
        "missing media/",
    ),
    "a checksum mismatch": (
        lambda f, p: _retar({**f, _media_name(f): f[_media_name(f)][:-1] + b"\0"}, p),
        "does not match its checksum",
    ),
    "an altered post": (
        lambda f, p: _retar({**f, "posts.jsonl": f["posts.jsonl"].replace(b"river", b"RIVER")}, p),
        "posts.jsonl does not match its checksum",
    ),
    "a file outside the format": (
        lambda f, p: _retar({**f, "../../evil.sh": b"#!/bin/sh"}, p),
        "not part of a dateline-archive/1",
    ),
    "a symlink": (
        lambda f, p: _retar(f, p, extra=[_link("media/" + "0" * 32 + ".jpg", "/etc/passwd")]),
        "not part of a dateline-archive/1",
    ),
    "an unlisted file": (
        lambda f, p: _retar({**f, "media/" + "a" * 32 + ".jpg": b"x"}, p),
        "does not list",
    ),
    "hostile html kept as text": (
        lambda f, p: _retar(_tamper_post(f, lambda post: post.update(headline="\x00 nul")), p),
        "headline: must not contain control characters",
    ),
    "a post in the future": (
        lambda f, p: _retar(
            _tamper_post(f, lambda post: post.update(published_at="2099-01-01T00:00:00Z")), p
        ),
        "published_at: must not be in the future",
    ),
    "a score below zero": (
        lambda f, p: _retar(
            _with_header(
                f,
                lambda h: h["blog"].update(
                    score={"sides": [{"name": "A", "score": -1}, {"name": "B", "score": 0}]}
                ),
            ),
            p,
        ),
        "blog.score.sides.0.score: Input should be greater than or equal to 0",
    ),
    "an unknown person": (
        lambda f, p: _retar(_tamper_post(f, lambda post: post.update(author="x@evil.org")), p),
        "'x@evil.org' is not in the archive's people",
    ),
    "an image of another server path": (
        lambda f, p: _retar(
            _tamper_post(
                f, lambda post: post.update(media=[{**post["media"][0], "url": "/media/../x.jpg"}])
            ),
            p,
        ),
        "not an image of this server",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
async def test_damaged_or_hostile_archives_are_refused_and_change_nothing(
    store: Store, archived: tuple[dict[str, bytes], Path], case: str
) -> None:
    files, tmp_path = archived
    make, message = BROKEN[case]
    path = make(files, tmp_path / "bad.tar.gz")
    newsroom = _newsroom(store, tmp_path / "media")
    before = await _counts(store)
    with pytest.raises((ImportFailed, Invalid), match=message), Archive(path) as archive:
        await newsroom.restore_archive(archive)
    assert await _counts(store) == before
    assert not (tmp_path / "media").exists() or not any((tmp_path / "media").iterdir())


async def test_a_gzip_bomb_stops_at_the_size_limit(store: Store, tmp_path: Path) -> None:
    # A header that claims a 100 GB member: refused from the tar header, before reading it.
    info = tarfile.TarInfo("posts.jsonl")
    info.size = 100 * 1024**3
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        gz.write(info.tobuf(format=tarfile.PAX_FORMAT))
        gz.write(b"\0" * 10_000_000)
    (tmp_path / "bomb.tar.gz").write_bytes(buf.getvalue())
    with pytest.raises(ImportFailed, match="too large"):
        Archive(tmp_path / "bomb.tar.gz")


async def test_editors_of_the_blog_download_its_archive_through_the_api(
    seeded: Any, tmp_path: Path
) -> None:
    editor = await seeded.make_user("editor", blogs=("xi-putin-moscow",))
    writer = await seeded.make_user("contributor", blogs=("xi-putin-moscow",))
    outsider = await seeded.make_user("editor")
    url = "/api/v1/blogs/xi-putin-moscow/export"
    async with seeded.client(editor) as client:
        got = await client.get(url)
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == "application/gzip"
        assert "xi-putin-moscow.dateline.tar.gz" in got.headers["content-disposition"]
        assert got.headers["cache-control"] == "private, no-store"
        (tmp_path / "got.tar.gz").write_bytes(got.content)
        with Archive(tmp_path / "got.tar.gz") as archive:
            assert archive.header.blog.slug == "xi-putin-moscow"
            assert archive.header.posts == 9
        assert (await client.get("/api/v1/blogs/nothing-here/export")).status_code == 404
    for token, status, message in (
        (writer, 403, "contributors cannot export"),
        (outsider, 403, "not a member"),
        (None, 401, ""),
    ):
        async with seeded.client(token) as client:
            got = await client.get(url)
            assert got.status_code == status
            assert message in got.json()["error"]["message"]
