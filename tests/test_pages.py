"""The reader page, server-rendered: everything a reader needs without JavaScript."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from dateline.newsroom.inputs import PostCreate
from tests.conftest import Running

SLUG = "xi-putin-moscow"


def _times(html: str) -> list[str]:
    return re.findall(r'class="post__time"[^>]*><time datetime="[^"]+">([^<]+)</time>', html)


async def test_the_seed_page_shows_the_header_and_nine_posts_newest_first(seeded: Running) -> None:
    async with seeded.client() as c:
        r = await c.get(f"/{SLUG}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "Xi and Putin meet in Moscow as Russia&#39;s war in Ukraine continues" in html
    assert "March 20, 2023" in html
    assert (
        "By Kathleen Magramo, Eliza Mackintosh, Aditi Sangal, Mike Hayes, Leinz Vales and "
        "Elise Hammond, CNN" in html
    )
    assert (
        'Updated <time datetime="2023-03-21T04:03:00Z">12:03 a.m. ET, March 21, 2023</time>' in html
    )
    assert "9 Posts" in html and "Sort by" in html
    times = _times(html)
    assert times[0] == "7:28 p.m. ET, March 20, 2023"
    assert times == [
        "7:28 p.m. ET, March 20, 2023", "5:07 p.m. ET, March 20, 2023",
        "2:57 p.m. ET, March 20, 2023", "2:42 p.m. ET, March 20, 2023",
        "2:25 p.m. ET, March 20, 2023", "1:36 p.m. ET, March 20, 2023",
        "12:35 p.m. ET, March 20, 2023", "12:20 p.m. ET, March 20, 2023",
        "12:18 p.m. ET, March 20, 2023",
    ]  # fmt: skip
    assert '<time datetime="2023-03-20T23:28:00Z">' in html
    assert "From CNN’s Maria Kostenko in Kyiv" in html
    assert "CNN’s Rob Picheta contributed reporting to this post." in html
    assert (
        "<figcaption>A view of the eastern Ukrainian city of Bakhmut is seen on March 15." in html
    )
    assert '<span class="credit">(Roman Chop/AP)</span>' in html
    assert "<strong>More context:</strong>" in html
    assert html.count("<article") == 9
    # Everything above is in the HTML itself; the one script only keeps the page live.
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts == [
        '<script type="application/ld+json">',
        f'<script type="module" src="/static/live.js?v={scripts[1].split("?v=")[1]}',
    ]


async def test_sort_oldest_reverses_the_order(seeded: Running) -> None:
    async with seeded.client() as c:
        html = (await c.get(f"/{SLUG}", params={"sort": "oldest"})).text
        assert _times(html)[0] == "12:18 p.m. ET, March 20, 2023"
        assert _times(html)[-1] == "7:28 p.m. ET, March 20, 2023"
        assert (await c.get(f"/{SLUG}", params={"sort": "up"})).status_code == 400


async def test_load_more_pages_through_posts_twenty_at_a_time(seeded: Running) -> None:
    editor = seeded.admin
    start = datetime(2023, 3, 20, 10, tzinfo=UTC)
    for i in range(16):  # 25 posts in all, these older than the seed's
        await seeded.services.newsroom.write_post(
            editor,
            SLUG,
            PostCreate(headline=f"Early {i}", published_at=start + timedelta(minutes=i)),
        )
    async with seeded.client() as c:
        first = (await c.get(f"/{SLUG}")).text
        assert first.count("<article") == 20
        more = re.search(r'href="([^"]+)" rel="next">Load more', first)
        assert more
        second = (await c.get(more.group(1).replace("&amp;", "&"))).text
        assert second.count("<article") == 5 and "Load more" not in second
        # (The structured data lists the latest 50 on every page; the stream is the page's own.)
        stream = re.compile(r"<section class=\"stream\".*?</section>", re.S)
        assert "Early 0" in stream.search(second).group(0)  # type: ignore[union-attr]
        assert "Early 0" not in stream.search(first).group(0)  # type: ignore[union-attr]


async def test_a_permalink_renders_the_post_on_its_own_page(seeded: Running) -> None:
    async with seeded.client() as c:
        posts = (await c.get(f"/api/v1/blogs/{SLUG}/posts", params={"limit": 1})).json()["posts"]
        r = await c.get(posts[0]["url"])
        assert r.status_code == 200
        assert "US announces another $350 million in security assistance for Ukraine" in r.text
        assert r.text.count("<article") == 1
        assert (await c.get(f"/{SLUG}/posts/nope")).status_code == 404
        missing = await c.get("/no-such-blog")
        assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


async def test_edits_show_updated_with_the_correction_note(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        posts = (await c.get(f"/api/v1/blogs/{SLUG}/posts", params={"limit": 1})).json()["posts"]
        await c.patch(
            f"/api/v1/blogs/{SLUG}/posts/{posts[0]['id']}",
            json={
                "headline": "US announces $350 million more",
                "correction": "Headline clarified.",
                "base_revision": posts[0]["revision"],
            },
        )
        html = (await c.get(posts[0]["url"])).text
    assert "US announces $350 million more" in html
    # A March 2023 post edited today: the note says which day, not only the time.
    assert re.search(
        r"Updated <time[^>]+>\d+:\d\d [ap]\.m\. E[ST]?T?, \w+ \d+, 20\d\d</time>: "
        r".*Headline clarified\.",
        html,
    ), re.search(r"Updated.{0,200}", html)


async def test_static_files_with_a_hash_are_cached_for_a_year(seeded: Running) -> None:
    async with seeded.client() as c:
        html = (await c.get(f"/{SLUG}")).text
        script = re.search(r'src="(/static/live\.js\?v=[0-9a-f]+)"', html)
        assert script
        r = await c.get(script.group(1))
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_the_index_lists_blogs(seeded: Running) -> None:
    async with seeded.client() as c:
        html = (await c.get("/")).text
    assert f'href="/{SLUG}"' in html


async def test_pages_carry_a_strong_etag_and_change_with_each_event(seeded: Running) -> None:
    async with seeded.client() as c:
        first = await c.get(f"/{SLUG}", headers={"Accept-Encoding": "br"})
        assert first.headers["content-encoding"] == "br"
        assert first.headers["cache-control"].startswith("public, max-age=")
        assert "stale-while-revalidate" in first.headers["cache-control"]
        etag = first.headers["etag"]
        assert etag.startswith('"') and not etag.startswith("W/")
        again = await c.get(f"/{SLUG}", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        gz = await c.get(f"/{SLUG}", headers={"Accept-Encoding": "gzip"})
        assert gz.headers["content-encoding"] == "gzip" and gz.text == first.text
        for path in (f"/api/v1/blogs/{SLUG}", f"/api/v1/blogs/{SLUG}/posts", f"/{SLUG}/feed.atom",
                     f"/api/v1/blogs/{SLUG}/events?after=5"):  # fmt: skip
            r = await c.get(path)
            assert (
                await c.get(path, headers={"If-None-Match": r.headers["etag"]})
            ).status_code == 304
    async with seeded.client(seeded.token) as c:
        await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": "A new version"})
        fresh = await c.get(f"/{SLUG}", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != etag
    assert "A new version" in fresh.text and "10 Posts" in fresh.text
    cache = seeded.services.render_cache
    assert cache.hits >= 2


async def test_every_answer_carries_the_browsers_defences(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        post = (await c.get(f"/api/v1/blogs/{SLUG}/posts?limit=1")).json()["posts"][0]
        for path, ancestors in (
            (f"/{SLUG}", "'self'"),
            (f"/{SLUG}?sort=oldest", "'self'"),
            (f"/{SLUG}/posts/{post['id']}", "'self'"),
            ("/", "'self'"),
            ("/no/such/page", "'self'"),
            (f"/{SLUG}/embed", "*"),
            ("/newsroom/login", "'none'"),
            (f"/api/v1/blogs/{SLUG}", "'none'"),
            (f"/{SLUG}/feed.atom", "'none'"),
        ):
            for _ in range(2):  # the first answer renders, the second comes from the cache
                r = await c.get(path)
                policy = r.headers["content-security-policy"]
                assert f"frame-ancestors {ancestors}" in policy, path
                assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path
                if "script-src" in policy:
                    assert "script-src 'self';" in policy, path
                assert r.headers["x-content-type-options"] == "nosniff", path
                assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin", path


async def test_tags_are_shown_and_filter_the_page_the_api_and_the_feed(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        for headline, tags in (("Drone strike", ["Kyiv", "War"]), ("Summit ends", ["Diplomacy"])):
            r = await c.post(
                f"/api/v1/blogs/{SLUG}/posts", json={"headline": headline, "tags": tags}
            )
            assert r.status_code == 201
    async with seeded.client() as c:
        page = (await c.get(f"/{SLUG}")).text
        assert '<a href="/xi-putin-moscow?tag=Kyiv" rel="tag">Kyiv</a>' in page
        tagged = (await c.get(f"/{SLUG}", params={"tag": "Kyiv"})).text
        assert tagged.count("<article") == 1 and "Drone strike" in tagged
        assert 'data-tag="Kyiv"' in tagged and "Posts tagged <strong>Kyiv</strong>" in tagged
        api = (await c.get(f"/api/v1/blogs/{SLUG}/posts", params={"tag": "Diplomacy"})).json()
        assert [p["headline"] for p in api["posts"]] == ["Summit ends"]
        feed = (await c.get(f"/{SLUG}/feed.atom", params={"tag": "War"})).text
        assert feed.count("<entry>") == 1 and "Drone strike" in feed
        assert (await c.get(f"/{SLUG}", params={"tag": "x" * 51})).status_code == 400
        nothing = (await c.get(f"/{SLUG}", params={"tag": "Nowhere"})).text
        assert "No posts yet." in nothing


def _vary_tokens(r: httpx.Response) -> list[str]:
    """Every name in every Vary header, as a cache reads them (comma lists, any case)."""
    return [
        t.strip().lower() for v in r.headers.get_list("vary") for t in v.split(",") if t.strip()
    ]


async def test_every_answer_names_vary_once_and_the_site_has_an_icon(seeded: Running) -> None:
    async with seeded.client(seeded.token) as editor, seeded.client() as c:
        paths = [f"/{SLUG}", f"/{SLUG}/feed.atom", f"/api/v1/blogs/{SLUG}", "/", "/healthz",
                 f"/api/v1/blogs/{SLUG}/events?after=8", f"/{SLUG}/embed",
                 f"/api/v1/blogs/{SLUG}/posts"]  # fmt: skip
        for first in ("identity", "gzip", "br", "gzip, deflate, br"):
            # A new post: every answer below is a first render (a cache miss) for `first`.
            new = await editor.post(f"/api/v1/blogs/{SLUG}/posts", json={"body": first})
            assert new.status_code == 201
            for path in paths:
                for encoding in (first, "identity", "gzip"):  # rendered, then from the cache
                    r = await c.get(path, headers={"Accept-Encoding": encoding})
                    tokens = _vary_tokens(r)
                    assert len(tokens) == len(set(tokens)), (path, first, encoding, r.headers)
                    if path not in ("/", "/healthz"):  # the blog's answers, from web/cache.py
                        assert tokens == ["accept-encoding"], (path, encoding, r.headers)
        icon = await c.get("/favicon.ico")
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
        assert '<link rel="icon"' in (await c.get(f"/{SLUG}")).text


async def test_the_index_says_which_coverage_has_ended(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        assert "Live</span>" in (await c.get("/")).text
        await c.patch(f"/api/v1/blogs/{SLUG}", json={"status": "ended"})
        assert "Coverage ended" in (await c.get("/")).text


async def test_the_embed_takes_its_options_from_the_snippet(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        snippet = (await c.get(f"/api/v1/blogs/{SLUG}")).json()["embed_html"]
        assert "/embed?posts=10&amp;layout=full&amp;pinned=1&amp;key_events=0" in snippet
        posts = (await c.get(f"/api/v1/blogs/{SLUG}/posts?limit=1")).json()["posts"]
        await c.patch(f"/api/v1/blogs/{SLUG}/posts/{posts[0]['id']}", json={"key_event": True})
        three = (await c.get(f"/{SLUG}/embed", params={"posts": 3, "layout": "compact"})).text
        assert three.count('<article class="post') == 3 and "embed--compact" in three
        assert 'id="key-events"' not in three and 'data-max="3"' in three
        boxes = (await c.get(f"/{SLUG}/embed", params={"key_events": 1, "pinned": 0})).text
        assert 'id="key-events"' in boxes and 'id="pinned"' not in boxes
        for bad in ({"posts": 0}, {"posts": "many"}, {"layout": "tiny"}, {"pinned": "yes"}):
            assert (await c.get(f"/{SLUG}/embed", params=bad)).status_code == 400
