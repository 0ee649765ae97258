"""The JSON API over real HTTP: reads, writes, and the errors bad input gets."""

from __future__ import annotations

import pytest

from tests.conftest import Running

SLUG = "xi-putin-moscow"


async def test_blog_and_posts_read_as_the_contract_says(seeded: Running) -> None:
    async with seeded.client() as c:
        blog = (await c.get(f"/api/v1/blogs/{SLUG}")).json()
        assert blog["title"] == "Xi and Putin meet in Moscow as Russia's war in Ukraine continues"
        assert blog["organisation"] == "CNN" and blog["timezone"] == "America/New_York"
        assert blog["post_count"] == 9 and blog["last_seq"] == 9
        assert blog["updated_at"] == "2023-03-21T04:03:00Z"
        page = (await c.get(f"/api/v1/blogs/{SLUG}/posts", params={"limit": 5})).json()
        assert len(page["posts"]) == 5 and page["next_cursor"]
        first = page["posts"][0]
        assert first["published_at"] == "2023-03-20T23:28:00Z"
        assert first["url"] == f"/{SLUG}/posts/{first['id']}"
        rest = (
            await c.get(f"/api/v1/blogs/{SLUG}/posts", params={"cursor": page["next_cursor"]})
        ).json()
        assert len(rest["posts"]) == 4 and rest["next_cursor"] is None
        one = (await c.get(first["url"].replace(f"/{SLUG}", f"/api/v1/blogs/{SLUG}"))).json()
        assert one["id"] == first["id"] and "<p>" in one["body_html"]


async def test_an_editor_writes_edits_and_deletes_a_post(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        r = await c.post(
            f"/api/v1/blogs/{SLUG}/posts",
            json={
                "headline": "Talks resume",
                "body": "Xi and Putin met again **today**.",
                "byline": {"people": [{"name": "Uliana Pavlova"}], "location": "Moscow"},
                "contributors": ["Rob Picheta"],
                "media": [{"alt": "Two leaders", "caption": "The leaders", "credit": "AP"}],
                "key_event": True,
            },
        )
        assert r.status_code == 201, r.text
        post = r.json()
        assert post["seq"] == 10 and post["status"] == "published" and post["key_event"]
        assert post["body_html"] == "<p>Xi and Putin met again <strong>today</strong>.</p>"
        r = await c.patch(
            f"/api/v1/blogs/{SLUG}/posts/{post['id']}",
            json={
                "body": "They met again today.",
                "correction": "An earlier version erred.",
                "base_revision": 1,
            },
        )
        assert r.status_code == 200 and r.json()["revision"] == 2 and r.json()["seq"] == 11
        r = await c.request(
            "DELETE", f"/api/v1/blogs/{SLUG}/posts/{post['id']}", json={"reason": "duplicate"}
        )
        assert r.status_code == 200 and r.json()["status"] == "deleted"
        assert (await c.get(f"/api/v1/blogs/{SLUG}/posts/{post['id']}")).status_code == 404
        blog = (await c.get(f"/api/v1/blogs/{SLUG}")).json()
        assert blog["post_count"] == 9 and blog["last_seq"] == 12


async def test_blogs_are_created_and_changed(running: Running) -> None:
    async with running.client(running.token) as c:
        r = await c.post(
            "/api/v1/blogs",
            json={"slug": "quake", "title": "Earthquake", "timezone": "Asia/Tokyo",
                  "authors": [{"name": "A Reporter"}], "organisation": "Dateline News"},
        )  # fmt: skip
        assert r.status_code == 201 and r.json()["url"] == "/quake"
        r = await c.patch("/api/v1/blogs/quake", json={"status": "ended"})
        assert r.json()["status"] == "ended" and r.json()["coverage_end"]
        events = (await c.get("/api/v1/blogs/quake/events")).json()["events"]
        assert [e["type"] for e in events] == ["blog.ended"]
        assert events[0]["blog"]["status"] == "ended"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Bearer TOKEN"),
        ({"Authorization": "Bearer dl_wrong"}, "unknown or revoked"),
        ({"Authorization": "Basic abc"}, "must be 'Bearer TOKEN'"),
    ],
)
async def test_writes_without_a_valid_token_get_401(
    seeded: Running, headers: dict[str, str], message: str
) -> None:
    async with seeded.client() as c:
        r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": "x"}, headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"]["code"] == "unauthorized" and message in r.json()["error"]["message"]
    blog = await seeded.store.get_blog(SLUG)
    assert blog.last_seq == 9


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"headline": 5}, 422, "headline"),
        ({"headline": "x" * 301}, 422, "headline"),
        ({"body": "x", "colour": "red"}, 422, "colour"),
        ({"byline": {"people": [{"name": ""}]}}, 422, "byline.people.0.name"),
        ({"media": [{"alt": "a", "caption": "c"}]}, 422, "media.0.credit"),
        ({"media": [{"url": "javascript:alert(1)", "alt": "a", "caption": "c", "credit": "d"}]},
         422, "media.0.url"),
        ({"status": "scheduled"}, 422, "publish_at"),
        ({"status": "deleted"}, 422, "status"),
        ({"headline": "x", "published_at": "2023-03-20T12:00:00"}, 422, "published_at"),
        ({"headline": "bad\u0000byte"}, 422, "headline"),
        ({"headline": "x", "published_at": "0001-01-01T00:00:00+14:00"}, 422, "published_at"),
        ({"headline": "x", "published_at": "9999-12-31T23:59:59Z"}, 422, "published_at"),
        # Numbers are not times (pydantic would read 0 as 1970): found by tests/test_fuzz.py.
        ({"headline": "x", "published_at": 0}, 422, "published_at"),
        ({"headline": "x", "pinned": 1}, 422, "pinned"),
        ({"headline": 5}, 422, "headline"),
        ({}, 409, None),
    ],
)  # fmt: skip
async def test_malformed_posts_get_a_clear_error_and_change_nothing(
    seeded: Running, body: dict[str, object], status: int, field: str | None
) -> None:
    async with seeded.client(seeded.token) as c:
        r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["message"]
    if field:
        assert error["field"] == field and field in error["message"]
    assert (await seeded.store.get_blog(SLUG)).last_seq == 9


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"", "application/json", 400),
        (b"headline=x", "application/x-www-form-urlencoded", 415),
    ],
)
async def test_bodies_that_are_not_json_objects_are_refused(
    seeded: Running, content: bytes, content_type: str, status: int
) -> None:
    async with seeded.client(seeded.token) as c:
        r = await c.post(
            f"/api/v1/blogs/{SLUG}/posts", content=content, headers={"Content-Type": content_type}
        )
    assert r.status_code == status and r.json()["error"]["message"]


async def test_oversized_bodies_get_413(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"body": "x" * 1_100_000})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


async def test_unknown_blogs_posts_and_endpoints_get_404(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        for method, path in [
            ("GET", "/api/v1/blogs/nope"),
            ("GET", f"/api/v1/blogs/{SLUG}/posts/nope"),
            ("PATCH", f"/api/v1/blogs/{SLUG}/posts/nope"),
            ("POST", "/api/v1/blogs/nope/posts"),
            ("GET", "/api/v1/nothing"),
        ]:
            r = await c.request(method, path, json={"headline": "x"})
            assert r.status_code == 404, (method, path)
            assert r.json()["error"]["code"] == "not_found"


async def test_bad_query_parameters_get_400(seeded: Running) -> None:
    async with seeded.client() as c:
        for params in ({"sort": "sideways"}, {"limit": "0"}, {"limit": "x"}, {"cursor": "%%%"}):
            r = await c.get(f"/api/v1/blogs/{SLUG}/posts", params=params)
            assert r.status_code == 400, params
        r = await c.get(f"/api/v1/blogs/{SLUG}/events", params={"after": "-1"})
        assert r.status_code == 400


async def test_contributors_cannot_publish_and_outsiders_cannot_write(seeded: Running) -> None:
    contributor = await seeded.make_user("contributor", blogs=(SLUG,))
    outsider = await seeded.make_user("editor")
    async with seeded.client(contributor) as c:
        r = await c.post(
            f"/api/v1/blogs/{SLUG}/posts", json={"headline": "x", "status": "published"}
        )
        assert r.status_code == 403
        r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": "Tip from the field"})
        assert r.status_code == 201 and r.json()["status"] == "submitted"
        submitted = r.json()["id"]
        r = await c.patch(f"/api/v1/blogs/{SLUG}/posts/{submitted}", json={"status": "published"})
        assert r.status_code == 403
        r = await c.post("/api/v1/blogs", json={"slug": "mine", "title": "Mine"})
        assert r.status_code == 403
    async with seeded.client(outsider) as c:
        r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": "x"})
        assert r.status_code == 403 and "member" in r.json()["error"]["message"]
    async with seeded.client(seeded.token) as c:
        r = await c.patch(f"/api/v1/blogs/{SLUG}/posts/{submitted}", json={"status": "published"})
        assert r.status_code == 200 and r.json()["status"] == "published"
    assert (await seeded.store.get_blog(SLUG)).last_seq == 10


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "Not A Slug", "title": "x"}, "slug"),
        ({"slug": "api", "title": "x"}, "slug"),
        ({"slug": "ok", "title": ""}, "title"),
        ({"slug": "ok", "title": "x", "timezone": "Eastern"}, "timezone"),
    ],
)
async def test_invalid_blogs_are_refused(
    running: Running, body: dict[str, str], field: str
) -> None:
    async with running.client(running.token) as c:
        r = await c.post("/api/v1/blogs", json=body)
    assert r.status_code == 422 and r.json()["error"]["field"] == field
    if field == "timezone":
        assert "America/New_York" in r.json()["error"]["message"]
    assert await running.store.list_blogs() == []


async def test_openapi_and_health_are_served(running: Running) -> None:
    async with running.client() as c:
        spec = (await c.get("/api/v1/openapi.json")).json()
        assert spec["openapi"].startswith("3.1")
        assert "post" in spec["paths"]["/api/v1/blogs/{slug}/posts"]
        assert "PostCreate" in spec["components"]["schemas"]
        assert (await c.get("/healthz")).json()["status"] == "ok"


async def test_hostile_text_in_every_field_reaches_readers_inert(seeded: Running) -> None:
    from tests.test_render import XSS, assert_inert

    payload = "<img src=x onerror=alert(1)><script>alert(1)</script>"
    async with seeded.client(seeded.token) as c:
        r = await c.post(
            f"/api/v1/blogs/{SLUG}/posts",
            json={
                "headline": payload,
                "body": "\n\n".join(XSS),
                "byline": {"people": [{"name": payload}], "location": payload},
                "contributors": [payload],
                "media": [{"alt": payload, "caption": payload, "credit": payload}],
                "tags": ["<b>x</b>"],
            },
        )
        assert r.status_code == 201, r.text
        post = r.json()
        assert_inert(post["body_html"])
        page = (await c.get(f"/{SLUG}")).text
        permalink = (await c.get(post["url"])).text
        events = (await c.get(f"/api/v1/blogs/{SLUG}/events", params={"after": 9})).json()
    fragment = events["events"][0]["html"]
    for html in (page, permalink, fragment):
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown as text, not run
        assert_inert(html.split('<main id="main"', 1)[-1])


async def test_an_edit_carries_its_revision_as_if_match_and_a_stale_one_gets_the_current(
    seeded: Running,
) -> None:
    """GET names the post's revision in a strong ETag; PATCH takes it back as If-Match (or the
    revision as base_revision). A stale one is refused (409) with the post as it now is."""
    posts = f"/api/v1/blogs/{SLUG}/posts"
    async with seeded.client(seeded.token) as c, seeded.client() as reader:
        first, other = (await c.get(posts, params={"limit": 2})).json()["posts"]
        path = f"{posts}/{first['id']}"
        got = await reader.get(path)
        tag = got.headers["etag"]
        assert not tag.startswith("W/") and f".r{first['revision']}." in tag
        assert (await reader.get(path, headers={"If-None-Match": tag})).status_code == 304
        edited = await c.patch(path, json={"body": "Mine."}, headers={"If-Match": tag})
        assert edited.status_code == 200 and edited.json()["revision"] == first["revision"] + 1
        newer = (await reader.get(path)).headers["etag"]
        assert newer != tag and f".r{first['revision'] + 1}." in newer

        # Someone who read the post before that edit.
        stale = await c.patch(path, json={"body": "Theirs."}, headers={"If-Match": tag})
        assert stale.status_code == 409
        assert stale.json()["error"]["current"]["body"] == "Mine."
        assert "If-Match" in stale.json()["error"]["message"]
        # A pin changes the answer (and its ETag) but not the revision an edit starts from.
        assert (await c.patch(path, json={"pinned": True})).status_code == 200
        pinned = (await reader.get(path)).headers["etag"]
        assert pinned != newer and f".r{first['revision'] + 1}." in pinned
        ok = await c.patch(path, json={"body": "Mine, again."}, headers={"If-Match": newer})
        assert ok.status_code == 200

        # A tag that is not this post's: 412, nothing changed.
        theirs = (await reader.get(f"{posts}/{other['id']}")).headers["etag"]
        for foreign in (theirs, '"nonsense"', 'W/"' + ok.json()["id"] + '.r3.abc"'):
            r = await c.patch(path, json={"body": "Nope."}, headers={"If-Match": foreign})
            assert r.status_code == 412, (foreign, r.text)
            assert r.json()["error"]["code"] == "precondition_failed"
        # `*` is any version (RFC 9110): it names no revision, so it guards nothing.
        r = await c.patch(path, json={"pinned": False}, headers={"If-Match": "*"})
        assert r.status_code == 200
        # Both ways at once must agree.
        current = ok.json()["revision"]
        now_tag = (await reader.get(path)).headers["etag"]
        r = await c.patch(
            path,
            json={"body": "Both.", "base_revision": current - 1},
            headers={"If-Match": now_tag},
        )
        assert r.status_code == 422 and r.json()["error"]["field"] == "base_revision"
        r = await c.patch(
            path, json={"body": "Both.", "base_revision": current}, headers={"If-Match": now_tag}
        )
        assert r.status_code == 200 and r.json()["body"] == "Both."

        # Restoring from History carries the revision it was chosen on, too.
        at = r.json()["revision"]
        r = await c.patch(path, json={"restore_revision": 1, "base_revision": at - 1})
        assert r.status_code == 409 and r.json()["error"]["current"]["revision"] == at
        r = await c.patch(path, json={"restore_revision": 1, "base_revision": at})
        assert r.status_code == 200 and r.json()["body"] == first["body"]
        # An unpublished post: its ETag comes from the newsroom's private answer.
        draft = (await c.post(posts, json={"body": "Draft.", "status": "draft"})).json()
        private = await c.get(f"{posts}/{draft['id']}")
        assert private.headers["cache-control"] == "private, no-store"
        assert ".r1." in private.headers["etag"]
        r = await c.patch(
            f"{posts}/{draft['id']}", json={"body": "Draft 2."},
            headers={"If-Match": private.headers["etag"]},
        )  # fmt: skip
        assert r.status_code == 200


async def test_an_edit_without_the_revision_it_started_from_is_refused_and_changes_nothing(
    seeded: Running,
) -> None:
    posts = f"/api/v1/blogs/{SLUG}/posts"
    async with seeded.client(seeded.token) as c:
        post = (await c.post(posts, json={"headline": "Talks begin", "body": "At noon."})).json()
        path = f"{posts}/{post['id']}"
        for edit in ({"body": "At one."}, {"headline": "x"}, {"tags": ["a"]},
                     {"correction": "Fixed."}, {"media": []}, {"restore_revision": 1}):  # fmt: skip
            r = await c.patch(path, json=edit)
            assert r.status_code == 428, (edit, r.text)
            error = r.json()["error"]
            assert error["code"] == "precondition_required" and "base_revision" in error["message"]
        after = (await c.get(path)).json()
        assert (after["revision"], after["body"], after["seq"]) == (1, "At noon.", post["seq"])
        # Pins, flags and status changes name no revision; they never make an edit stale.
        assert (await c.patch(path, json={"pinned": True, "key_event": True})).status_code == 200
        r = await c.patch(path, json={"body": "At one.", "base_revision": 1})
        assert r.status_code == 200 and r.json()["revision"] == 2
        # If-Match: * is the deliberate overwrite of whatever version is there.
        r = await c.patch(path, json={"body": "At two."}, headers={"If-Match": "*"})
        assert r.status_code == 200 and r.json()["revision"] == 3
