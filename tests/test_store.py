"""The store and its event log, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from dateline.bus import open_bus
from dateline.errors import BadRequest, Conflict, NotFound
from dateline.model import EventType, PostStatus, User
from dateline.newsroom import Newsroom
from dateline.newsroom.inputs import BlogCreate, PostCreate, PostPatch
from dateline.newsroom.shapes import decode_cursor, encode_cursor, event_payload
from dateline.store import Store
from dateline.store.schema import metadata


async def _editor(store: Store) -> User:
    newsroom = Newsroom(store, open_bus("memory://"))
    return await newsroom.create_user(None, email="ed@example.org", name="Ed", role="editor")


async def _blog(newsroom: Newsroom, user: User, slug: str = "b") -> None:
    await newsroom.create_blog(user, BlogCreate(slug=slug, title="A blog", timezone="Europe/Kyiv"))


async def test_migrations_create_exactly_the_declared_schema(store: Store) -> None:
    def diff(sync_conn: object) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(sync_conn), metadata))  # type: ignore[arg-type]

    async with store.engines.write.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_publishing_appends_an_event_with_the_next_seq(
    store: Store, offline_newsroom: Newsroom
) -> None:
    editor = await _editor(store)
    await _blog(offline_newsroom, editor)
    first = await offline_newsroom.write_post(editor, "b", PostCreate(headline="One", body="x"))
    second = await offline_newsroom.write_post(editor, "b", PostCreate(headline="Two", body="y"))
    blog = await store.get_blog("b")
    events = await store.events_after(blog.id or 0, 0)
    assert [(e.seq, e.type, e.post_id) for e in events] == [
        (1, EventType.POST_PUBLISHED, first.id),
        (2, EventType.POST_PUBLISHED, second.id),
    ]
    assert events[1].payload["post"]["headline"] == "Two"
    assert events[1].payload["post"]["seq"] == 2
    assert (blog.last_seq, blog.post_count) == (2, 2)


async def test_drafts_write_no_event_and_publishing_them_does(
    store: Store, offline_newsroom: Newsroom
) -> None:
    editor = await _editor(store)
    await _blog(offline_newsroom, editor)
    draft = await offline_newsroom.write_post(editor, "b", PostCreate(body="d", status="draft"))
    blog = await store.get_blog("b")
    assert (blog.last_seq, blog.post_count, draft.seq) == (0, 0, None)
    published = await offline_newsroom.edit_post(
        editor, "b", draft.id, PostPatch(status="published")
    )
    assert published.status is PostStatus.PUBLISHED and published.seq == 1
    assert published.published_at is not None


async def test_edits_keep_revisions_and_emit_updates(
    store: Store, offline_newsroom: Newsroom
) -> None:
    editor = await _editor(store)
    await _blog(offline_newsroom, editor)
    post = await offline_newsroom.write_post(editor, "b", PostCreate(headline="Tyop", body="a"))
    edited = await offline_newsroom.edit_post(
        editor,
        "b",
        post.id,
        PostPatch(headline="Typo", correction="Fixed a typo.", base_revision=1),
    )
    assert (edited.revision, edited.correction, edited.seq) == (2, "Fixed a typo.", 2)
    pinned = await offline_newsroom.edit_post(editor, "b", post.id, PostPatch(pinned=True))
    assert pinned.revision == 2 and pinned.seq == 3
    blog = await store.get_blog("b")
    revisions = await store.list_revisions(blog, post.id)
    assert [(r.number, r.headline, r.note) for r in revisions] == [
        (1, "Tyop", None),
        (2, "Typo", "Fixed a typo."),
    ]
    types = [e.type for e in await store.events_after(blog.id or 0, 0)]
    assert types == [EventType.POST_PUBLISHED, EventType.POST_UPDATED, EventType.POST_PINNED]


async def test_deleting_keeps_the_post_and_emits_a_tombstone(
    store: Store, offline_newsroom: Newsroom
) -> None:
    editor = await _editor(store)
    await _blog(offline_newsroom, editor)
    post = await offline_newsroom.write_post(editor, "b", PostCreate(headline="Wrong", body="no"))
    await offline_newsroom.delete_post(editor, "b", post.id, {"reason": "published in error"})
    blog = await store.get_blog("b")
    kept = await store.get_post(blog, post.id)
    assert kept.status is PostStatus.DELETED and kept.delete_reason == "published in error"
    assert blog.post_count == 0
    event = (await store.events_after(blog.id or 0, 1))[0]
    assert event.type is EventType.POST_DELETED
    assert "body" not in event.payload["post"] and "headline" not in event.payload["post"]
    with pytest.raises(NotFound):
        await offline_newsroom.delete_post(editor, "b", post.id, {})


async def test_a_failed_write_leaves_no_event_and_no_gap(
    store: Store, offline_newsroom: Newsroom
) -> None:
    editor = await _editor(store)
    await _blog(offline_newsroom, editor)
    await offline_newsroom.write_post(editor, "b", PostCreate(headline="One"))
    blog = await store.get_blog("b")
    from dateline.model import Post

    clash = Post(blog_slug="b", headline="dup", status=PostStatus.PUBLISHED)
    clash.id = (await store.list_posts(blog))[0][0].id  # an id that exists: the insert fails
    with pytest.raises(IntegrityError):
        await store.insert_post(
            blog, clash, user_id=None, emit=EventType.POST_PUBLISHED, shape=event_payload
        )
    await offline_newsroom.write_post(editor, "b", PostCreate(headline="Two"))
    assert [e.seq for e in await store.events_after(blog.id or 0, 0)] == [1, 2]


async def test_concurrent_publishers_get_gap_free_seqs(
    store: Store, offline_newsroom: Newsroom
) -> None:
    editor = await _editor(store)
    await _blog(offline_newsroom, editor)
    await _blog(offline_newsroom, editor, "other")
    count = 60

    async def publish(i: int) -> int:
        slug = "b" if i % 3 else "other"
        post = await offline_newsroom.write_post(editor, slug, PostCreate(headline=f"#{i}"))
        return post.seq or 0

    seqs = await asyncio.gather(*(publish(i) for i in range(count)))
    for slug in ("b", "other"):
        blog = await store.get_blog(slug)
        logged = [e.seq for e in await store.events_after(blog.id or 0, 0)]
        assert logged == list(range(1, blog.last_seq + 1))
        assert blog.post_count == blog.last_seq
    assert sorted(seqs) == sorted(
        list(range(1, 41)) + list(range(1, 21))
    )  # every publisher got a distinct seq of its blog


async def test_pages_follow_published_time_with_a_cursor(
    store: Store, offline_newsroom: Newsroom
) -> None:
    from datetime import UTC, datetime, timedelta

    editor = await _editor(store)
    await _blog(offline_newsroom, editor)
    start = datetime(2023, 3, 20, 12, tzinfo=UTC)
    for i in (3, 0, 4, 1, 2):  # written out of order
        await offline_newsroom.write_post(
            editor, "b", PostCreate(headline=f"h{i}", published_at=start + timedelta(minutes=i))
        )
    blog = await store.get_blog("b")
    page, after = await store.list_posts(blog, limit=2)
    assert [p.headline for p in page] == ["h4", "h3"] and after
    cursor = encode_cursor(after)
    page, after = await store.list_posts(blog, limit=2, after=decode_cursor(cursor))
    assert [p.headline for p in page] == ["h2", "h1"] and after
    page, after = await store.list_posts(blog, limit=2, after=after)
    assert [p.headline for p in page] == ["h0"] and after is None
    oldest, _ = await store.list_posts(blog, newest_first=False, limit=5)
    assert [p.headline for p in oldest] == ["h0", "h1", "h2", "h3", "h4"]
    with pytest.raises(BadRequest):
        decode_cursor("not-a-cursor")


async def test_blog_slugs_are_unique(store: Store, offline_newsroom: Newsroom) -> None:
    editor = await _editor(store)
    await _blog(offline_newsroom, editor)
    with pytest.raises(Conflict):
        await _blog(offline_newsroom, editor)
