"""What search engines, link previews and feed readers see, checked with real extractors."""

from __future__ import annotations

import re

import extruct
import feedparser

from tests.conftest import Running
from tests.platforms import png

SLUG = "xi-putin-moscow"


async def test_the_page_carries_live_blog_posting_json_ld(seeded: Running) -> None:
    async with seeded.client() as c:
        html = (await c.get(f"/{SLUG}")).text
    data = extruct.extract(html, base_url=seeded.base_url, syntaxes=["json-ld", "opengraph"])
    (blog,) = data["json-ld"]
    assert blog["@type"] == "LiveBlogPosting"
    assert blog["headline"].startswith("Xi and Putin meet in Moscow")
    assert blog["coverageStartTime"] == "2023-03-20T16:18:00Z" and "coverageEndTime" not in blog
    assert blog["dateModified"] == "2023-03-21T04:03:00Z"
    assert blog["publisher"] == {"@type": "Organization", "name": "CNN"}
    assert len(blog["author"]) == 6
    updates = blog["liveBlogUpdate"]
    assert len(updates) == 9 and {u["@type"] for u in updates} == {"BlogPosting"}
    first = updates[0]
    assert (
        first["headline"] == "US announces another $350 million in security assistance for Ukraine"
    )
    assert first["datePublished"] == "2023-03-20T23:28:00Z"
    assert first["articleBody"].startswith("The Biden administration has authorized")
    assert first["url"].startswith(f"{seeded.base_url}/{SLUG}/posts/")
    og = dict(data["opengraph"][0]["properties"])
    assert og["og:title"] == blog["headline"] and og["og:url"] == f"{seeded.base_url}/{SLUG}"
    assert f'<link rel="canonical" href="{seeded.base_url}/{SLUG}">' in html
    assert '<meta name="twitter:card" content="summary">' in html


async def test_ended_coverage_has_an_end_time(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        await c.patch(f"/api/v1/blogs/{SLUG}", json={"status": "ended"})
        html = (await c.get(f"/{SLUG}")).text
    (blog,) = extruct.extract(html, syntaxes=["json-ld"])["json-ld"]
    assert blog["coverageEndTime"]
    assert "This live coverage has ended." in html


async def test_a_permalink_carries_its_own_posts_metadata(seeded: Running) -> None:
    async with seeded.client() as c:
        post = (await c.get(f"/api/v1/blogs/{SLUG}/posts", params={"limit": 1})).json()["posts"][0]
        html = (await c.get(post["url"])).text
    data = extruct.extract(html, syntaxes=["json-ld", "opengraph"])
    (item,) = data["json-ld"]
    assert item["@type"] == "BlogPosting" and item["headline"] == post["headline"]
    assert item["url"] == seeded.base_url + post["url"]
    assert item["isPartOf"]["url"] == f"{seeded.base_url}/{SLUG}"
    og = dict(data["opengraph"][0]["properties"])
    assert og["og:title"] == post["headline"] and og["og:url"] == seeded.base_url + post["url"]


async def test_json_ld_cannot_be_closed_by_a_headline(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        await c.post(
            f"/api/v1/blogs/{SLUG}/posts",
            json={"headline": "</script><script>alert(1)</script>", "body": "x"},
        )
        html = (await c.get(f"/{SLUG}")).text
    ld = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert ld and "<" not in ld.group(1)
    assert "<script>alert(1)" not in html


async def test_the_atom_feed_has_an_entry_per_post_and_follows_edits(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        r = await c.get(f"/{SLUG}/feed.atom")
        assert r.headers["content-type"].startswith("application/atom+xml")
        feed = feedparser.parse(r.content)
        assert not feed.bozo, feed.bozo_exception
        assert feed.feed.title.startswith("Xi and Putin meet in Moscow")
        assert len(feed.entries) == 9
        newest = feed.entries[0]
        assert (
            newest.title == "US announces another $350 million in security assistance for Ukraine"
        )
        assert newest.published == "2023-03-20T23:28:00Z"
        assert "The Biden administration" in newest.content[0].value
        assert newest.link.startswith(f"{seeded.base_url}/{SLUG}/posts/")
        post_id = newest.link.rsplit("/", 1)[1]
        await c.patch(
            f"/api/v1/blogs/{SLUG}/posts/{post_id}",
            json={"body": "Corrected."},
            headers={"If-Match": "*"},
        )
        edited = feedparser.parse((await c.get(f"/{SLUG}/feed.atom")).content).entries[0]
    assert edited.id == newest.id and edited.updated > newest.updated
    assert "Corrected." in edited.content[0].value


async def test_structured_data_is_clean_text_credited_right_and_covers_the_latest_fifty(
    seeded: Running,
) -> None:
    async with seeded.client(seeded.token) as c:
        unsigned = await c.post(
            f"/api/v1/blogs/{SLUG}/posts",
            json={"headline": "Unsigned", "body": "A&nbsp;space and\nlines.", "byline": {}},
        )
        assert unsigned.status_code == 201
        for i in range(55):
            await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": f"More {i}"})
        second = (await c.get(f"/{SLUG}?sort=oldest")).text
    (blog,) = extruct.extract(second, syntaxes=["json-ld"])["json-ld"]
    updates = blog["liveBlogUpdate"]
    assert len(updates) == 50 and updates[0]["headline"] == "More 54"  # the latest, any page
    for update in updates:
        assert "&nbsp;" not in update["articleBody"] and "&amp;" not in update["articleBody"]
    async with seeded.client() as c:
        page = (await c.get(f"/{SLUG}")).text
        html = (await c.get(unsigned.json()["url"])).text
    (item,) = extruct.extract(html, syntaxes=["json-ld"])["json-ld"]
    assert item["articleBody"] == "A\xa0space and\nlines."
    assert item["author"] == {"@type": "Organization", "name": "CNN"}  # not all six authors
    og = dict(extruct.extract(page, syntaxes=["opengraph"])["opengraph"][0]["properties"])
    assert og["og:site_name"] == "CNN"
    assert "\n" not in og["og:description"]
    seed_updates = extruct.extract(page, syntaxes=["json-ld"])["json-ld"][0]["liveBlogUpdate"]
    assert all("&nbsp;" not in u["articleBody"] for u in seed_updates)


async def test_the_blog_page_shows_the_newest_post_image_as_its_own(seeded: Running) -> None:
    """Link previews and search engines get the blog's picture: the newest post image."""
    async with seeded.client(seeded.token) as c:
        before = (await c.get(f"/{SLUG}")).text
        assert "og:image" not in before and "twitter:image" not in before
        upload = await c.post(
            "/api/v1/media",
            files={"file": ("square.png", png(800, 600, "navy"), "image/png")},
            data={"alt": "A navy square", "caption": "The square.", "credit": "Desk"},
        )
        assert upload.status_code == 201, upload.text
        media = upload.json()
        picture = {"url": media["url"], "alt": "A navy square", "caption": "The square.",
                   "credit": "Desk"}  # fmt: skip
        posted = await c.post(
            f"/api/v1/blogs/{SLUG}/posts", json={"headline": "With a picture", "media": [picture]}
        )
        assert posted.status_code == 201, posted.text
        html = (await c.get(f"/{SLUG}")).text
    image = seeded.base_url + media["url"]
    data = extruct.extract(html, base_url=seeded.base_url, syntaxes=["json-ld", "opengraph"])
    (blog,) = data["json-ld"]
    assert blog["image"] == image
    assert blog["liveBlogUpdate"][0]["image"] == [image]
    og = dict(data["opengraph"][0]["properties"])
    assert og["og:image"] == image
    assert f'<meta name="twitter:image" content="{image}">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
