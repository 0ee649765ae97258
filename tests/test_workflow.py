"""The newsroom's workflow through the API: drafts, review, scheduling, revisions, corrections,
retractions and ending coverage, with what readers see at each step."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from dateline.newsroom import Newsroom
from tests.conftest import Running
from tests.servers import free_port
from tests.sse import connect
from tests.test_console import make_person, sign_in

SLUG = "xi-putin-moscow"
POSTS = f"/api/v1/blogs/{SLUG}/posts"


def _soon(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_a_contributor_submits_and_an_editor_sends_back_then_approves(
    seeded: Running,
) -> None:
    contributor = await seeded.make_user("contributor", blogs=(SLUG,))
    editor = await seeded.make_user("editor", blogs=(SLUG,))
    async with seeded.client(contributor) as c, seeded.client(editor) as e:
        asked = await c.post(POSTS, json={"headline": "Tanks seen", "status": "published"})
        assert asked.status_code == 403  # a contributor never publishes
        draft = (await c.post(POSTS, json={"headline": "Tanks seen", "status": "draft"})).json()
        assert draft["status"] == "draft"
        r = await c.patch(f"{POSTS}/{draft['id']}", json={"status": "submitted"})
        assert r.json()["status"] == "submitted"
        back = await e.patch(
            f"{POSTS}/{draft['id']}", json={"status": "draft", "review_note": "Source?"}
        )
        assert back.status_code == 200 and back.json()["status"] == "draft"
        again = await c.patch(
            f"{POSTS}/{draft['id']}",
            json={"body": "Per the ministry.", "status": "submitted", "base_revision": 1},
        )
        assert again.status_code == 200
        before = (await e.get(f"/api/v1/blogs/{SLUG}")).json()["post_count"]
        approved = await e.patch(f"{POSTS}/{draft['id']}", json={"status": "published"})
        assert approved.json()["status"] == "published" and approved.json()["published_at"]
        blog = (await e.get(f"/api/v1/blogs/{SLUG}")).json()
        assert blog["post_count"] == before + 1
        # Once published, it is the editors' post: the contributor cannot change it.
        late = await c.patch(f"{POSTS}/{draft['id']}", json={"body": "sneaky"})
        assert late.status_code == 403


async def test_drafts_are_invisible_to_readers(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c, seeded.client() as anon:
        draft = (await c.post(POSTS, json={"headline": "Not yet", "status": "draft"})).json()
        assert (await anon.get(f"{POSTS}/{draft['id']}")).status_code == 404
        assert (await anon.get(f"/{SLUG}/posts/{draft['id']}")).status_code == 404
        assert "Not yet" not in (await anon.get(f"/{SLUG}")).text
        assert (await c.get(f"{POSTS}/{draft['id']}")).json()["status"] == "draft"


async def test_a_contributor_sees_only_their_own_unpublished_posts(seeded: Running) -> None:
    writer = await seeded.make_user("contributor", blogs=(SLUG,))
    other = await seeded.make_user("contributor", blogs=(SLUG,))
    editor = await seeded.make_user("editor", blogs=(SLUG,))
    async with seeded.client(writer) as w, seeded.client(other) as o, seeded.client(editor) as e:
        draft = (await w.post(POSTS, json={"headline": "My lead", "status": "draft"})).json()
        assert (await w.get(f"{POSTS}/{draft['id']}")).json()["headline"] == "My lead"
        assert (await o.get(f"{POSTS}/{draft['id']}")).status_code == 404
        assert (await e.get(f"{POSTS}/{draft['id']}")).status_code == 200


async def test_a_scheduled_post_goes_out_once_at_its_time(seeded: Running) -> None:
    newsroom: Newsroom = seeded.services.newsroom
    async with seeded.client(seeded.token) as c:
        at = _soon(3600)
        r = await c.post(
            POSTS, json={"headline": "At noon", "status": "scheduled", "publish_at": at}
        )
        assert r.status_code == 201, r.text
        post = r.json()
        assert post["status"] == "scheduled" and post["published_at"] is None
        assert await newsroom.publish_due() == []  # not yet
        real = newsroom.clock
        newsroom.clock = lambda: real() + timedelta(hours=1, seconds=1)
        try:
            for _ in range(100):  # the server's own scheduler runs every second
                got = (await c.get(f"{POSTS}/{post['id']}")).json()
                if got["status"] == "published":
                    break
                await asyncio.sleep(0.05)
            assert got["status"] == "published"
            assert await newsroom.publish_due() == []  # never twice
        finally:
            newsroom.clock = real
        events = (await c.get(f"/api/v1/blogs/{SLUG}/events", params={"after": 9})).json()
        published = [e for e in events["events"] if e["post_id"] == post["id"]]
        assert [e["type"] for e in published] == ["post.published"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"headline": "x", "status": "scheduled"}, "publish_at"),
        (
            {"headline": "x", "status": "scheduled", "publish_at": "2020-01-01T00:00:00Z"},
            "publish_at",
        ),
        (
            {"headline": "x", "status": "scheduled", "publish_at": "2099-01-01T00:00:00Z"},
            "publish_at",
        ),
        (
            {"headline": "x", "status": "scheduled", "publish_at": "2030-01-01T00:00:00"},
            "publish_at",
        ),
        ({"headline": "x", "publish_at": _soon(600)}, "publish_at"),
    ],
)
async def test_bad_schedules_are_refused_and_change_nothing(
    seeded: Running, body: dict[str, object], field: str
) -> None:
    async with seeded.client(seeded.token) as c:
        r = await c.post(POSTS, json=body)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == field
        assert (await c.get(f"/api/v1/blogs/{SLUG}")).json()["last_seq"] == 9


async def test_scheduled_posts_publish_exactly_once_across_processes(
    tmp_path: Path, seed_text: str
) -> None:
    """Three server processes on one SQLite file all run the scheduler; each due post is
    published once. (PostgreSQL takes the same row lock; tests/test_redis_bus.py covers nodes.)"""
    db = tmp_path / "d.db"
    seed = tmp_path / "seed.txt"
    seed.write_text(seed_text, "utf-8")
    env = {**os.environ, "DATELINE_DATABASE_URL": f"sqlite:///{db}", "PYTHONUNBUFFERED": "1"}
    run = [sys.executable, "-m", "dateline.cli"]
    subprocess.run([*run, "import", str(seed), "--slug", SLUG], env=env, check=True)
    made = subprocess.run(
        [*run, "user", "create", "e@example.org", "--name", "E", "--role", "editor",
         "--token", "--blog", SLUG],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    token = made.stdout.strip().splitlines()[-1]
    ports = [free_port() for _ in range(3)]
    procs = [
        subprocess.Popen(
            [*run, "serve", "--port", str(p)],
            env={**env, "DATELINE_SCHEDULE_SECONDS": "0.2"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in ports
    ]
    try:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as c:
            for p in ports:
                for _ in range(200):
                    try:
                        if (await c.get(f"http://127.0.0.1:{p}/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.05)
            base = f"http://127.0.0.1:{ports[0]}"
            at = _soon(2)
            ids = []
            for i in range(6):
                r = await c.post(
                    base + POSTS,
                    json={"headline": f"S{i}", "status": "scheduled", "publish_at": at},
                )
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])
            for _ in range(100):
                blog = (await c.get(f"{base}/api/v1/blogs/{SLUG}")).json()
                if blog["post_count"] == 9 + len(ids):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1)  # time for a second publication, if there were one
            events = (await c.get(f"{base}/api/v1/blogs/{SLUG}/events?after=9")).json()["events"]
            published = sorted(e["post_id"] for e in events if e["type"] == "post.published")
            assert published == sorted(ids)
            blog = (await c.get(f"{base}/api/v1/blogs/{SLUG}")).json()
            assert blog["post_count"] == 9 + len(ids)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(10)


async def test_an_edit_keeps_history_and_an_old_revision_can_be_restored(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        post = (await c.post(POSTS, json={"headline": "Xi lands", "body": "In Moscow."})).json()
        r = await c.patch(
            f"{POSTS}/{post['id']}",
            json={
                "body": "In Moscow, on Monday.",
                "correction": "Correction: an earlier version misstated the day.",
                "base_revision": 1,
            },
        )
        assert r.json()["revision"] == 2
        assert r.json()["correction"].startswith("Correction:")
        page = (await c.get(f"/{SLUG}/posts/{post['id']}")).text
        assert "an earlier version misstated the day" in page
        history = (await c.get(f"{POSTS}/{post['id']}/revisions")).json()["revisions"]
        assert [(h["number"], h["body"]) for h in history] == [
            (1, "In Moscow."),
            (2, "In Moscow, on Monday."),
        ]
        assert history[1]["note"].startswith("Correction:") and history[1]["by"] == "Admin"
        restored = (
            await c.patch(f"{POSTS}/{post['id']}", json={"restore_revision": 1, "base_revision": 2})
        ).json()
        assert restored["revision"] == 3 and restored["body"] == "In Moscow."
        history = (await c.get(f"{POSTS}/{post['id']}/revisions")).json()["revisions"]
        assert [h["number"] for h in history] == [1, 2, 3]  # history is never rewritten
        missing = await c.patch(
            f"{POSTS}/{post['id']}", json={"restore_revision": 9, "base_revision": 3}
        )
        assert missing.status_code == 404
    async with seeded.client() as anon:
        assert (await anon.get(f"{POSTS}/{post['id']}/revisions")).status_code == 401


async def test_deleting_a_published_post_needs_a_reason_and_keeps_it(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        post = (await c.post(POSTS, json={"headline": "Wrong"})).json()
        r = await c.request("DELETE", f"{POSTS}/{post['id']}")
        assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
        r = await c.request("DELETE", f"{POSTS}/{post['id']}", json={"reason": "  "})
        assert r.status_code == 422
        assert (await c.get(f"{POSTS}/{post['id']}")).json()["status"] == "published"
        r = await c.request("DELETE", f"{POSTS}/{post['id']}", json={"reason": "Duplicate"})
        assert r.status_code == 200 and r.json()["status"] == "deleted"
    async with seeded.client() as anon:
        assert (await anon.get(f"{POSTS}/{post['id']}")).status_code == 404
        assert "Wrong" not in (await anon.get(f"/{SLUG}")).text
    kept = await seeded.store.get_post(await seeded.store.get_blog(SLUG), post["id"])
    assert kept.status.value == "deleted" and kept.delete_reason == "Duplicate"


@pytest.mark.network
async def test_ending_coverage_tells_readers_and_closes_the_stream(seeded: Running) -> None:
    async with (
        seeded.client(seeded.token) as c,
        connect(seeded.base_url, f"/{SLUG}/live?after=9") as sse,
    ):
        r = await c.patch(f"/api/v1/blogs/{SLUG}", json={"status": "ended"})
        assert r.json()["status"] == "ended" and r.json()["coverage_end"]
        event = await sse.next_event()
        assert event.data is not None and event.data["type"] == "blog.ended"
        assert await sse.ended()
        page = (await c.get(f"/{SLUG}")).text
        assert "This live coverage has ended" in page
        # The page and the stream stay; a reader arriving now gets the backlog and the end.
        async with connect(seeded.base_url, f"/{SLUG}/live?after=9") as late:
            first = await late.next_event()
            assert first.data is not None and first.data["type"] == "blog.ended"
            assert await late.ended()


async def test_ended_coverage_refuses_posts_says_how_to_reopen_and_reopening_lets_them_in(
    seeded: Running,
) -> None:
    admin = await make_person(seeded, "admin")
    async with seeded.client(seeded.token) as c, seeded.client() as console:
        await c.patch(f"/api/v1/blogs/{SLUG}", json={"status": "ended"})
        refused = await c.post(POSTS, json={"body": "After the end."})
        assert refused.status_code == 409
        message = refused.json()["error"]["message"]
        assert 'PATCH the blog with {"status": "live"}' in message
        # The console control the message names is there, with that choice.
        assert 'set Status to "live" in "Blog header and status"' in message
        await sign_in(console, admin)
        page = (await console.get(f"/newsroom/blogs/{SLUG}")).text
        assert "<summary>Blog header and status</summary>" in page
        assert re.search(r'<select name="status">\s*<option value="live"', page)
        # Drafts may still be written (docs/newsroom.md, "Ending coverage").
        draft = await c.post(POSTS, json={"body": "For later.", "status": "draft"})
        assert draft.status_code == 201
        published = await c.patch(f"{POSTS}/{draft.json()['id']}", json={"status": "published"})
        assert published.status_code == 409
        reopened = await c.patch(f"/api/v1/blogs/{SLUG}", json={"status": "live"})
        assert reopened.json()["status"] == "live"
        accepted = await c.post(POSTS, json={"body": "Back on the story."})
        assert accepted.status_code == 201 and accepted.json()["status"] == "published"


async def test_the_writer_is_the_byline_unless_another_is_given(seeded: Running) -> None:
    contributor = await seeded.make_user("contributor", blogs=(SLUG,))
    async with seeded.client(contributor) as c:
        r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": "From the scene"})
        assert r.status_code == 201
        post = r.json()
        assert post["byline"]["people"] == [{"name": "A contributor"}]
        other = await c.post(
            f"/api/v1/blogs/{SLUG}/posts",
            json={"headline": "Pool report", "byline": {"people": [{"name": "Pool"}]}},
        )
        assert other.json()["byline"]["people"] == [{"name": "Pool"}]
    async with seeded.client(seeded.token) as editor:  # approving keeps it
        r = await editor.patch(
            f"/api/v1/blogs/{SLUG}/posts/{post['id']}", json={"status": "published"}
        )
        assert r.status_code == 200 and r.json()["byline"]["people"] == [{"name": "A contributor"}]


async def test_restoring_a_revision_with_an_image_brings_the_image_back(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        posts = (await c.get(f"/api/v1/blogs/{SLUG}/posts?limit=20")).json()["posts"]
        photo = next(p for p in posts if p["media"])
        path = f"/api/v1/blogs/{SLUG}/posts/{photo['id']}"
        r = await c.patch(
            path,
            json={
                "media": [],
                "headline": "Without the picture",
                "base_revision": photo["revision"],
            },
        )
        assert r.status_code == 200 and r.json()["media"] == []
        r = await c.patch(
            path, json={"restore_revision": 1, "base_revision": photo["revision"] + 1}
        )
        assert r.status_code == 200, r.text
        assert r.json()["media"] == photo["media"] and r.json()["headline"] == photo["headline"]
        r = await c.patch(path, json={"restore_revision": 1, "headline": "And this"})
        assert r.status_code == 422 and r.json()["error"]["field"] == "restore_revision"
