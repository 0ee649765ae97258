"""Two editors at once: every change is a transition of the post as it is inside the write
transaction, so of two racing requests either both apply in some order or the loser gets 409
(or 404 for a deleted post) and writes nothing. No acknowledged change is ever undone, no event
is logged twice, and the blog's post count stays exact. Each race is run many times, on SQLite
and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Running

SLUG = "xi-putin-moscow"
POSTS = f"/api/v1/blogs/{SLUG}/posts"
TRIALS = 20

Act = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]


def _patch(**fields: Any) -> Act:
    return lambda c, pid: c.patch(f"{POSTS}/{pid}", json=fields)


def _delete(c: httpx.AsyncClient, pid: str) -> Awaitable[httpx.Response]:
    return c.request("DELETE", f"{POSTS}/{pid}", json={"reason": "Duplicate."})


async def _new_post(c: httpx.AsyncClient, status: str = "published") -> str:
    r = await c.post(POSTS, json={"headline": "As filed", "body": "Text.", "status": status})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _post_events(running: Running, post_id: str) -> list[str]:
    blog = await running.store.get_blog(SLUG)
    assert blog.id is not None
    return [
        e.type.value
        for e in await running.store.events_after(blog.id, 0, limit=100_000)
        if e.post_id == post_id
    ]


async def _books_balance(running: Running) -> None:
    """The post count is the number of published posts, and the seqs are gap-free."""
    blog = await running.store.get_blog(SLUG)
    assert blog.id is not None
    published, _ = await running.store.list_posts(blog, limit=100_000)
    assert blog.post_count == len(published)
    seqs = [e.seq for e in await running.store.events_after(blog.id, 0, limit=100_000)]
    assert seqs == list(range(1, blog.last_seq + 1))


async def _race(
    running: Running, setup_status: str, first: Act, second: Act
) -> tuple[str, httpx.Response, httpx.Response]:
    async with running.client(running.token) as a, running.client(running.token) as b:
        post_id = await _new_post(a, setup_status)
        ra, rb = await asyncio.gather(first(a, post_id), second(b, post_id))
    return post_id, ra, rb


async def _public(running: Running, post_id: str) -> httpx.Response:
    async with running.client() as anonymous:
        return await anonymous.get(f"{POSTS}/{post_id}")


async def test_delete_racing_an_edit_never_brings_the_post_back(seeded: Running) -> None:
    for _ in range(TRIALS):
        post_id, edit, delete = await _race(
            seeded,
            "published",
            _patch(headline="Edited", correction="Fixed a name.", base_revision=1),
            _delete,
        )
        assert delete.status_code == 200, delete.text
        assert edit.status_code in (200, 404), edit.text
        assert (await _public(seeded, post_id)).status_code == 404
        events = await _post_events(seeded, post_id)
        assert events[-1] == "post.deleted" and events.count("post.deleted") == 1
        assert events.count("post.updated") == (1 if edit.status_code == 200 else 0)
    await _books_balance(seeded)


async def test_delete_racing_a_pin_never_brings_the_post_back(seeded: Running) -> None:
    for _ in range(TRIALS):
        post_id, pin, delete = await _race(seeded, "published", _patch(pinned=True), _delete)
        assert delete.status_code == 200, delete.text
        assert pin.status_code in (200, 404), pin.text
        assert (await _public(seeded, post_id)).status_code == 404
        assert (await _post_events(seeded, post_id))[-1] == "post.deleted"
    await _books_balance(seeded)


async def test_an_edit_and_a_pin_at_once_both_stay(seeded: Running) -> None:
    for i in range(TRIALS):
        post_id, edit, pin = await _race(
            seeded,
            "published",
            _patch(headline=f"Edited {i}", correction="Fixed a name.", base_revision=1),
            _patch(pinned=True),
        )
        assert edit.status_code == 200 and pin.status_code == 200, (edit.text, pin.text)
        post = (await _public(seeded, post_id)).json()
        assert post["headline"] == f"Edited {i}" and post["correction"] == "Fixed a name."
        assert post["pinned"] is True
    await _books_balance(seeded)


async def test_two_approvals_publish_once(seeded: Running) -> None:
    approve = _patch(status="published")
    for _ in range(TRIALS):
        post_id, a, b = await _race(seeded, "submitted", approve, approve)
        assert sorted((a.status_code, b.status_code)) == [200, 409], (a.text, b.text)
        assert (await _post_events(seeded, post_id)).count("post.published") == 1
    await _books_balance(seeded)


async def test_two_deletes_delete_once(seeded: Running) -> None:
    for _ in range(TRIALS):
        post_id, a, b = await _race(seeded, "published", _delete, _delete)
        assert sorted((a.status_code, b.status_code)) == [200, 404], (a.text, b.text)
        assert (await _post_events(seeded, post_id)).count("post.deleted") == 1
    await _books_balance(seeded)


async def test_two_edits_from_the_same_revision_one_wins_the_other_is_told(
    seeded: Running,
) -> None:
    for _ in range(TRIALS):
        post_id, a, b = await _race(
            seeded,
            "published",
            _patch(headline="Mine", base_revision=1),
            _patch(body="Theirs.", base_revision=1),
        )
        assert sorted((a.status_code, b.status_code)) == [200, 409], (a.text, b.text)
        loser = a if a.status_code == 409 else b
        assert loser.json()["error"]["current"]["revision"] == 2  # what to merge into
        post = (await _public(seeded, post_id)).json()
        assert post["revision"] == 2
        assert (await _post_events(seeded, post_id)).count("post.updated") == 1
    await _books_balance(seeded)


async def test_approve_racing_a_delete_leaves_it_deleted(seeded: Running) -> None:
    for _ in range(TRIALS):
        post_id, approve, delete = await _race(
            seeded, "submitted", _patch(status="published"), _delete
        )
        assert delete.status_code == 200, delete.text
        assert approve.status_code in (200, 404), approve.text
        assert (await _public(seeded, post_id)).status_code == 404
        events = await _post_events(seeded, post_id)
        assert events == (["post.published", "post.deleted"] if approve.status_code == 200 else [])
    await _books_balance(seeded)


async def test_scheduling_racing_publish_now_publishes_once(seeded: Running) -> None:
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for _ in range(TRIALS):
        post_id, schedule, publish = await _race(
            seeded, "draft", _patch(status="scheduled", publish_at=at), _patch(status="published")
        )
        assert publish.status_code == 200, publish.text
        assert schedule.status_code in (200, 409), schedule.text
        assert (await _public(seeded, post_id)).json()["status"] == "published"
        assert (await _post_events(seeded, post_id)).count("post.published") == 1
    await _books_balance(seeded)


@pytest.mark.parametrize("trial", range(5))
async def test_ending_coverage_racing_a_post_lets_nothing_in_after_the_end(
    seeded: Running, trial: int
) -> None:
    async with seeded.client(seeded.token) as a, seeded.client(seeded.token) as b:
        end, post = await asyncio.gather(
            a.patch(f"/api/v1/blogs/{SLUG}", json={"status": "ended"}),
            b.post(POSTS, json={"headline": "Late news"}),
        )
    assert end.status_code == 200, end.text
    assert post.status_code in (201, 409), post.text
    blog = await seeded.store.get_blog(SLUG)
    assert blog.id is not None
    types = [e.type.value for e in await seeded.store.events_after(blog.id, 9)]
    # Whatever was published, was published before the end.
    assert types == (
        ["post.published", "blog.ended"] if post.status_code == 201 else ["blog.ended"]
    )
    await _books_balance(seeded)


@pytest.mark.parametrize("settings_overrides", [{"poll_votes_per_minute": 0}])
async def test_a_results_announcement_racing_an_edit_of_its_poll_never_deadlocks(
    seeded: Running,
) -> None:
    """The announcement and the edit both write the poll's row and the blog's: they take them
    in the same order (the blog first), or PostgreSQL breaks the deadlock by failing one of
    them, and the editor's save answered 500."""
    from tests.test_polls import _post_with_poll, _vote

    for _ in range(TRIALS):
        post = await _post_with_poll(seeded)
        async with seeded.client() as reader:
            assert (await _vote(reader, post["poll"], 0)).status_code == 200
        async with seeded.client(seeded.token) as editor:
            _, edit = await asyncio.gather(
                seeded.newsroom.announce_polls(),
                editor.patch(f"{POSTS}/{post['id']}", json={"poll": {"close": True}}),
            )
        assert edit.status_code == 200, edit.text
        assert edit.json()["poll"]["closed"] is True
    await seeded.newsroom.announce_polls()
    await _books_balance(seeded)
