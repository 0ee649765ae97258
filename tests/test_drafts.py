"""A draft blog is the newsroom's until it goes live: its page, permalinks, feed, embed, live
stream, JSON and the index answer as if it did not exist to everyone else, and nothing of it
reaches a shared cache; going live is an explicit change of status."""

from __future__ import annotations

import pytest

from tests.conftest import Running

SLUG = "draft-blog"
PATHS = [
    f"/{SLUG}",
    f"/{SLUG}?sort=oldest",
    f"/{SLUG}/embed",
    f"/{SLUG}/feed.atom",
    f"/{SLUG}/live",
    f"/api/v1/blogs/{SLUG}",
    f"/api/v1/blogs/{SLUG}/posts",
    f"/api/v1/blogs/{SLUG}/events?after=0",
]


@pytest.fixture
async def draft(running: Running) -> str:
    async with running.client(running.token) as c:
        r = await c.post(
            "/api/v1/blogs", json={"slug": SLUG, "title": "Embargoed", "status": "draft"}
        )
        assert r.status_code == 201, r.text
        r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": "Not yet"})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


async def test_a_draft_blog_does_not_exist_for_readers(running: Running, draft: str) -> None:
    outsider = await running.make_user("editor")  # an editor, but not of this blog
    for token in (None, outsider):
        async with running.client(token) as c:
            for path in [*PATHS, f"/{SLUG}/posts/{draft}", f"/api/v1/blogs/{SLUG}/posts/{draft}"]:
                r = await c.get(path)
                assert r.status_code == 404, (path, r.status_code)
            assert "Embargoed" not in (await c.get("/")).text


async def test_its_newsroom_reads_it_privately(running: Running, draft: str) -> None:
    async with running.client(running.token) as c:
        for path in (
            f"/{SLUG}",
            f"/{SLUG}/posts/{draft}",
            f"/api/v1/blogs/{SLUG}",
            f"/{SLUG}/feed.atom",
        ):
            r = await c.get(path)
            assert r.status_code == 200, path
            assert r.headers["cache-control"] == "private, no-store", path
    async with running.client() as anonymous:  # and the newsroom's view was cached for nobody
        assert (await anonymous.get(f"/{SLUG}")).status_code == 404


async def test_going_live_is_explicit(running: Running, draft: str) -> None:
    async with running.client(running.token) as c:
        r = await c.patch(f"/api/v1/blogs/{SLUG}", json={"status": "live"})
        assert r.status_code == 200 and r.json()["coverage_start"]
    async with running.client() as anonymous:
        page = await anonymous.get(f"/{SLUG}")
        assert page.status_code == 200 and "Not yet" in page.text
        assert "public" in page.headers["cache-control"]
        assert "Embargoed" in (await anonymous.get("/")).text
