"""The console's sign-in, sessions, CSRF, throttling and tokens, over real HTTP."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from dateline.model import PostStatus
from dateline.newsroom import accounts
from dateline.newsroom.posts import PRESENCE
from tests.conftest import Running

SLUG = "xi-putin-moscow"
PASSWORD = "correct horse battery"


async def make_person(running: Running, role: str, *, blogs: tuple[str, ...] = ()) -> str:
    email = f"{role}-{len(await running.store.list_users())}@example.org"
    await running.newsroom.create_user(
        None, email=email, name=f"The {role}", role=role, password=PASSWORD, blogs=blogs
    )
    return email


def _field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} in the page"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token (from the console's meta)."""
    form = (await client.get("/newsroom/login")).text
    r = await client.post(
        "/newsroom/login",
        data={"email": email, "password": password, "csrf_token": _field(form, "csrf_token")},
    )
    assert r.status_code == 303, r.text
    home = (await client.get("/newsroom/")).text
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', home)
    assert found
    return found.group(1)


async def test_signing_in_gives_an_httponly_lax_cookie_and_signing_out_ends_it(
    seeded: Running,
) -> None:
    email = await make_person(seeded, "editor", blogs=(SLUG,))
    async with seeded.client() as c:
        r = await c.get("/newsroom/")
        assert r.status_code == 303 and r.headers["location"].startswith("/newsroom/login")
        form = (await c.get("/newsroom/login")).text
        r = await c.post(
            "/newsroom/login",
            data={"email": email, "password": PASSWORD, "csrf_token": _field(form, "csrf_token")},
        )
        cookie = r.headers["set-cookie"]
        assert "dateline_session=" in cookie and "HttpOnly" in cookie
        assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
        stolen = c.cookies.get("dateline_session")
        home = await c.get("/newsroom/")
        assert home.status_code == 200 and "Xi and Putin" in home.text
        assert home.headers["cache-control"] == "no-store"
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', home.text)
        assert csrf
        out = await c.post("/newsroom/logout", data={"csrf_token": csrf.group(1)})
        assert out.status_code == 303
    # The old cookie is dead on the server, not just forgotten by the browser.
    async with seeded.client(cookies={"dateline_session": stolen or ""}) as thief:
        assert (await thief.get("/newsroom/")).status_code == 303


async def test_a_forged_or_tampered_cookie_is_not_a_session(seeded: Running) -> None:
    email = await make_person(seeded, "editor", blogs=(SLUG,))
    async with seeded.client() as c:
        await sign_in(c, email)
        good = c.cookies.get("dateline_session") or ""
    session_id, _, signature = good.rpartition(".")
    for forged in (f"{session_id}.{'0' * 64}", f"x{session_id}.{signature}", "garbage", ""):
        async with seeded.client(cookies={"dateline_session": forged}) as c:
            assert (await c.get("/newsroom/")).status_code == 303


async def test_cookie_writes_need_the_csrf_token(seeded: Running) -> None:
    email = await make_person(seeded, "editor", blogs=(SLUG,))
    async with seeded.client() as c:
        csrf = await sign_in(c, email)
        posts = f"/api/v1/blogs/{SLUG}/posts"
        r = await c.post(posts, json={"headline": "No token"})
        assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"]
        r = await c.post(posts, json={"headline": "Wrong"}, headers={"X-CSRF-Token": "nope"})
        assert r.status_code == 403
        r = await c.post(posts, json={"headline": "With token"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201
        r = await c.post("/newsroom/tokens", data={"label": "x"})
        assert r.status_code == 403
        # Reads need no token.
        assert (await c.get(f"{posts}/{r.url.path}")).status_code in (404, 200)
    async with seeded.client() as anon:
        headlines = [p["headline"] for p in (await anon.get(posts)).json()["posts"]]
    assert "No token" not in headlines and "Wrong" not in headlines


async def test_the_login_form_itself_is_csrf_protected(seeded: Running) -> None:
    email = await make_person(seeded, "editor")
    async with seeded.client() as c:
        r = await c.post("/newsroom/login", data={"email": email, "password": PASSWORD})
        assert r.status_code == 403
        assert "dateline_session" not in c.cookies


async def test_repeated_failures_throttle_sign_in(seeded: Running) -> None:
    email = await make_person(seeded, "editor")
    async with seeded.client() as c:
        for _ in range(accounts.MAX_FAILURES_PER_ACCOUNT):
            form = (await c.get("/newsroom/login")).text
            r = await c.post(
                "/newsroom/login",
                data={
                    "email": email,
                    "password": "wrong",
                    "csrf_token": _field(form, "csrf_token"),
                },
            )
            assert r.status_code == 401 and "wrong" in r.text
        form = (await c.get("/newsroom/login")).text
        r = await c.post(
            "/newsroom/login",
            data={"email": email, "password": PASSWORD, "csrf_token": _field(form, "csrf_token")},
        )
        # Even the right password waits now: a guesser cannot tell when it found it.
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert "dateline_session" not in c.cookies


async def test_tokens_are_shown_once_work_and_can_be_revoked(seeded: Running) -> None:
    email = await make_person(seeded, "editor", blogs=(SLUG,))
    async with seeded.client() as c:
        csrf = await sign_in(c, email)
        r = await c.post("/newsroom/tokens", data={"label": "wire feed", "csrf_token": csrf})
        assert r.status_code == 201
        token = re.search(r'<code id="new-token">(dl_[^<]+)</code>', r.text)
        assert token
        listing = (await c.get("/newsroom/tokens")).text
        assert "wire feed" in listing and token.group(1) not in listing
        async with seeded.client(token.group(1)) as api:
            r = await api.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": "Via token"})
            assert r.status_code == 201
        token_id = re.search(r"/newsroom/tokens/(\d+)/revoke", listing)
        assert token_id
        r = await c.post(f"/newsroom/tokens/{token_id.group(1)}/revoke", data={"csrf_token": csrf})
        assert r.status_code == 303
        async with seeded.client(token.group(1)) as api:
            r = await api.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": "Revoked"})
            assert r.status_code == 401


async def test_the_console_shows_the_compose_box_the_queue_and_the_embed_code(
    seeded: Running,
) -> None:
    email = await make_person(seeded, "editor", blogs=(SLUG,))
    contributor = await seeded.make_user("contributor", blogs=(SLUG,))
    async with seeded.client(contributor) as w:
        await w.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": "For review"})
    async with seeded.client() as c:
        await sign_in(c, email)
        page = (await c.get(f"/newsroom/blogs/{SLUG}")).text
        assert 'id="compose"' in page and "Ctrl+Enter publishes" in page
        assert "Waiting for review" in page and "For review" in page
        assert "Approve and publish" in page
        assert f"/{SLUG}/embed" in page and "data-dateline-embed" in page


async def test_preview_uses_the_readers_renderer_and_sanitises(seeded: Running) -> None:
    email = await make_person(seeded, "contributor", blogs=(SLUG,))
    async with seeded.client() as c:
        csrf = await sign_in(c, email)
        r = await c.post(
            "/newsroom/preview",
            json={"body": "**Bold** <script>alert(1)</script> [x](javascript:alert(1))"},
            headers={"X-CSRF-Token": csrf},
        )
        html = r.json()["html"]
        assert "<strong>Bold</strong>" in html
        assert "<script" not in html and 'href="javascript:' not in html
        assert (await c.post("/newsroom/preview", json={"body": "x"})).status_code == 403


async def _login_attempt(seeded: Running, email: str, password: str) -> int:
    async with seeded.client() as c:
        form = (await c.get("/newsroom/login")).text
        r = await c.post(
            "/newsroom/login",
            data={"email": email, "password": password, "csrf_token": _field(form, "csrf_token")},
        )
        return r.status_code


async def test_concurrent_wrong_passwords_cannot_slip_under_the_limit(seeded: Running) -> None:
    email = await make_person(seeded, "editor")
    codes = await asyncio.gather(*(_login_attempt(seeded, email, "wrong") for _ in range(40)))
    checked = [c for c in codes if c == 401]
    assert len(checked) <= accounts.MAX_FAILURES_PER_ACCOUNT, codes
    assert codes.count(429) >= 40 - accounts.MAX_FAILURES_PER_ACCOUNT, codes


async def test_the_right_password_in_a_burst_of_guesses_is_throttled_too(seeded: Running) -> None:
    email = await make_person(seeded, "editor")
    guesses = [_login_attempt(seeded, email, f"guess {i}") for i in range(30)]
    codes = await asyncio.gather(*guesses, _login_attempt(seeded, email, PASSWORD))
    # At most the limit's worth of passwords were checked, whichever came first.
    assert len([c for c in codes if c in (401, 303)]) <= accounts.MAX_FAILURES_PER_ACCOUNT, codes
    if codes[-1] == 303:
        return  # among the first checked, as a right fifth guess would be: that clears the count
    # A second burst gets no more checks than the first left: the limit holds per window.
    more = await asyncio.gather(*(_login_attempt(seeded, email, "again") for _ in range(30)))
    assert codes.count(401) + more.count(401) <= accounts.MAX_FAILURES_PER_ACCOUNT, (codes, more)


async def test_people_change_their_own_password_and_other_sign_ins_end(seeded: Running) -> None:
    email = await make_person(seeded, "editor")
    async with seeded.client() as here, seeded.client() as elsewhere:
        csrf = await sign_in(here, email)
        await sign_in(elsewhere, email)
        wrong = await here.post(
            "/newsroom/account/password",
            data={"current_password": "not it at all", "new_password": "a new one, long",
                  "csrf_token": csrf},
        )  # fmt: skip
        assert wrong.status_code == 422 and "current password is wrong" in wrong.text
        r = await here.post(
            "/newsroom/account/password",
            data={"current_password": PASSWORD, "new_password": "a new one, long",
                  "csrf_token": csrf},
        )  # fmt: skip
        assert r.status_code == 303
        assert (await here.get("/newsroom/")).status_code == 200  # this browser stays in
        assert (await elsewhere.get("/newsroom/")).status_code == 303  # the other is out
    assert await _login_attempt(seeded, email, PASSWORD) == 401
    assert await _login_attempt(seeded, email, "a new one, long") == 303


async def test_password_hashing_runs_off_the_event_loop_one_at_a_time(
    seeded: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An argon2 hash or check is about 140 ms of CPU and 64 MiB: on the event loop, each
    sign-in (a guess from anywhere included) would stop every reader's stream of the node for
    that long. They run in threads, one at a time."""
    import threading

    loop_thread = threading.get_ident()
    running_now = [0]
    seen: list[tuple[str, int, int]] = []
    real = accounts._hasher

    class Watched:
        def _call(self, name: str, *args: Any) -> Any:
            running_now[0] += 1
            seen.append((name, threading.get_ident(), running_now[0]))
            try:
                return getattr(real, name)(*args)
            finally:
                running_now[0] -= 1

        def hash(self, password: str) -> str:
            return str(self._call("hash", password))

        def verify(self, password_hash: str, password: str) -> bool:
            return bool(self._call("verify", password_hash, password))

    email = await make_person(seeded, "editor")
    monkeypatch.setattr(accounts, "_hasher", Watched())
    attempts = [(email, PASSWORD), (email, "not it at all"), ("nobody@example.org", PASSWORD)]
    answers = await asyncio.gather(*(_login_attempt(seeded, e, p) for e, p in attempts * 2))
    assert answers.count(303) == 2 and answers.count(401) == 4
    async with seeded.client() as c:
        csrf = await sign_in(c, email)
        r = await c.post(
            "/newsroom/account/password",
            data={"current_password": PASSWORD, "new_password": "a new one, long",
                  "csrf_token": csrf},
        )  # fmt: skip
        assert r.status_code == 303
    assert {name for name, _, _ in seen} == {"hash", "verify"}
    assert all(thread != loop_thread for _, thread, _ in seen), seen
    assert max(at_once for _, _, at_once in seen) == 1


async def test_admins_reset_passwords_and_deactivation_ends_sessions_and_revokes_tokens(
    seeded: Running,
) -> None:
    email = await make_person(seeded, "editor", blogs=(SLUG,))
    user = await seeded.store.get_user_by_email(email)
    assert user is not None
    token = await seeded.newsroom.issue_token(user)
    code = await seeded.newsroom.pairing_code(user, "telegram")
    await seeded.newsroom.pair("telegram", "4242", "Ed's phone", code)
    assert await seeded.newsroom.reporter("telegram", "4242") is not None
    admin_email = await make_person(seeded, "admin")
    async with seeded.client() as admin, seeded.client() as person, seeded.client(token) as api:
        admin_csrf = await sign_in(admin, admin_email)
        await sign_in(person, email)
        assert (await api.get(f"/api/v1/blogs/{SLUG}/posts/x/revisions")).status_code == 404
        r = await admin.post(
            f"/newsroom/users/{user.id}/active", data={"active": "false", "csrf_token": admin_csrf}
        )
        assert r.status_code == 303
        assert (await person.get("/newsroom/")).status_code == 303  # signed out at once
        assert (await api.get(f"/api/v1/blogs/{SLUG}/posts/x/revisions")).status_code == 401
        assert await _login_attempt(seeded, email, PASSWORD) == 403  # says it is deactivated
        users = (await admin.get("/newsroom/users")).text
        assert "deactivated" in users and "Reactivate" in users
        r = await admin.post(
            f"/newsroom/users/{user.id}/active", data={"active": "true", "csrf_token": admin_csrf}
        )
        # Reactivated, the account does not get its old keys back: its tokens and reporter
        # pairings were revoked for good (they may have left with the person).
        assert (await api.get(f"/api/v1/blogs/{SLUG}/posts/x/revisions")).status_code == 401
        assert await seeded.newsroom.reporter("telegram", "4242") is None
        assert all(t.revoked_at is not None for t in await seeded.newsroom.tokens(user))
        assert await seeded.newsroom.pairings(user) == []
        fresh = await seeded.newsroom.issue_token(user)
        async with seeded.client(fresh) as again:
            assert (await again.get(f"/api/v1/blogs/{SLUG}/posts/x/revisions")).status_code == 404
        r = await admin.post(
            f"/newsroom/users/{user.id}/password",
            data={"password": "reset by the desk", "csrf_token": admin_csrf},
        )
        assert r.status_code == 303
    assert await _login_attempt(seeded, email, "reset by the desk") == 303


async def test_a_contributor_reading_a_published_post_is_told_what_applies(
    seeded: Running,
) -> None:
    email = await make_person(seeded, "contributor", blogs=(SLUG,))
    async with seeded.client(seeded.token) as editor:
        posts = (await editor.get(f"/api/v1/blogs/{SLUG}/posts?limit=1")).json()["posts"]
        await editor.post(
            f"/api/v1/blogs/{SLUG}/posts",
            json={"headline": "Draft", "body": "**Bold** and a [link](https://x.org).\n\n## Sub",
                  "status": "submitted"},
        )  # fmt: skip
    async with seeded.client() as c:
        await sign_in(c, email)
        page = await c.get(f"/newsroom/blogs/{SLUG}/posts/{posts[0]['id']}")
        assert page.status_code == 200
        assert "you cannot change it: contributors can only edit their own posts" in page.text
        assert "history of their own posts" not in page.text and 'id="compose"' not in page.text
    async with seeded.client() as c:
        await sign_in(c, await make_person(seeded, "editor", blogs=(SLUG,)))
        lists = (await c.get(f"/newsroom/blogs/{SLUG}")).text
        assert "Bold and a link. Sub" in lists and "**Bold**" not in lists


async def test_the_editor_shows_who_else_has_a_post_open_and_forgets_them(seeded: Running) -> None:
    ana = await make_person(seeded, "editor", blogs=(SLUG,))
    ben = await make_person(seeded, "editor", blogs=(SLUG,))
    async with seeded.client(seeded.token) as c:
        post = (await c.get(f"/api/v1/blogs/{SLUG}/posts?limit=1")).json()["posts"][0]
    path = f"/newsroom/blogs/{SLUG}/posts/{post['id']}/presence"
    async with seeded.client() as a, seeded.client() as b:
        csrf_a, csrf_b = await sign_in(a, ana), await sign_in(b, ben)
        assert (await a.post(path, json={}, headers={"X-CSRF-Token": csrf_a})).json() == {
            "editing": []
        }
        seen = (await b.post(path, json={}, headers={"X-CSRF-Token": csrf_b})).json()
        assert seen == {"editing": ["The editor"]}
        await a.post(path, json={"leaving": True}, headers={"X-CSRF-Token": csrf_a})
        assert (await b.post(path, json={}, headers={"X-CSRF-Token": csrf_b})).json() == {
            "editing": []
        }
        assert (await b.post(path, json={})).status_code == 403  # CSRF, as every write


async def test_someone_who_stops_renewing_their_presence_is_forgotten_after_its_lifetime(
    seeded: Running,
) -> None:
    """A closed laptop sends no "leaving": its presence ends when it is not renewed for a
    minute (the page renews it every 15 s). The newsroom's clock is moved, not waited for."""
    ana = await make_person(seeded, "editor", blogs=(SLUG,))
    ben = await make_person(seeded, "editor", blogs=(SLUG,))
    async with seeded.client(seeded.token) as c:
        post = (await c.get(f"/api/v1/blogs/{SLUG}/posts?limit=1")).json()["posts"][0]
    path = f"/newsroom/blogs/{SLUG}/posts/{post['id']}/presence"
    start = datetime.now(UTC)
    newsroom = seeded.newsroom
    real_clock = newsroom.clock
    try:
        async with seeded.client() as a, seeded.client() as b:
            csrf_a, csrf_b = await sign_in(a, ana), await sign_in(b, ben)

            async def beat(client: httpx.AsyncClient, csrf: str, after: timedelta) -> list[str]:
                newsroom.clock = lambda: start + after
                r = await client.post(path, json={}, headers={"X-CSRF-Token": csrf})
                names: list[str] = r.json()["editing"]
                return names

            assert await beat(a, csrf_a, timedelta(0)) == []
            assert await beat(b, csrf_b, timedelta(seconds=15)) == ["The editor"]
            assert await beat(b, csrf_b, PRESENCE - timedelta(seconds=1)) == ["The editor"]
            # Ana's page went quiet at 0 s; Ben's keeps beating.
            assert await beat(b, csrf_b, PRESENCE + timedelta(seconds=1)) == []
            # Ana comes back: she is shown again at once.
            assert await beat(a, csrf_a, PRESENCE + timedelta(seconds=5)) == ["The editor"]
    finally:
        newsroom.clock = real_clock


async def test_a_refused_form_comes_back_as_typed_with_the_error_by_its_field(
    seeded: Running,
) -> None:
    email = await make_person(seeded, "admin")
    async with seeded.client() as c:
        csrf = await sign_in(c, email)
        for slug, timezone, field, says in (
            (SLUG, "UTC", "slug", "already exists"),
            ("newsroom", "UTC", "slug", "reserved"),
            ("mars-landing", "Mars/Olympus", "timezone", "unknown"),
        ):
            r = await c.post(
                "/newsroom/blogs",
                data={"slug": slug, "title": "Typed title", "timezone": timezone,
                      "summary": "Typed summary", "csrf_token": csrf},
            )  # fmt: skip
            assert r.status_code in (409, 422), r.text[:200]
            assert f'id="error-{field}" role="alert">' in r.text and says in r.text
            assert 'value="Typed title"' in r.text and "Typed summary</textarea>" in r.text
            assert 'aria-invalid="true"' in r.text
        r = await c.post(
            "/newsroom/users",
            data={"email": "new@example.org", "name": "Newcomer", "role": "editor",
                  "password": "short", "csrf_token": csrf},
        )  # fmt: skip
        assert r.status_code == 422 and 'id="error-password"' in r.text
        assert 'value="Newcomer"' in r.text and 'value="new@example.org"' in r.text
        r = await c.post(
            f"/newsroom/blogs/{SLUG}",
            data={"title": "Kept", "timezone": "Eastern", "status": "live", "csrf_token": csrf},
        )
        assert r.status_code == 422 and 'id="error-timezone"' in r.text
        assert 'value="Kept"' in r.text and 'value="Eastern"' in r.text


async def test_a_refused_password_comes_back_with_the_error_by_the_new_password_field(
    seeded: Running,
) -> None:
    """Resetting someone's password, and changing one's own: a refusal keeps the page, with
    the error by the field it is about (the browser's minlength is not the only check)."""
    email = await make_person(seeded, "admin")
    other = await seeded.store.get_user_by_email(await make_person(seeded, "editor"))
    assert other is not None
    async with seeded.client() as c:
        csrf = await sign_in(c, email)
        r = await c.post(
            f"/newsroom/users/{other.id}/password", data={"password": "short", "csrf_token": csrf}
        )
        assert r.status_code == 422 and "<h1>Users</h1>" in r.text
        field = re.search(rf'<input [^>]*id="password-{other.id}"[^>]*>', r.text)
        assert field and 'aria-invalid="true"' in field[0]
        described = re.search(r'aria-describedby="([^"]+)"', field[0])
        assert described, field[0]
        said = re.search(rf'id="{described[1]}"[^>]*>([^<]+)<', r.text)
        assert said and "at least 10 characters" in said[1]
        assert 'id="error-password"' not in r.text  # not by the new-user form's field

        for current, new, by, says in (
            (PASSWORD, "short", "new_password", "at least 10 characters"),
            ("not my password", "long enough now", "current_password", "is wrong"),
        ):
            r = await c.post(
                "/newsroom/account/password",
                data={"current_password": current, "new_password": new, "csrf_token": csrf},
            )
            assert r.status_code == 422
            field = re.search(rf'<input [^>]*name="{by}"[^>]*>', r.text)
            assert field and 'aria-invalid="true"' in field[0], r.text
            described = re.search(r'aria-describedby="([^"]+)"', field[0])
            assert described, field[0]
            said = re.search(rf'id="{described[1]}"[^>]*>([^<]+)<', r.text)
            assert said and says in said[1]
            assert r.text.count('aria-invalid="true"') == 1


async def test_the_compose_box_works_as_a_plain_form(seeded: Running) -> None:
    """Without JavaScript the compose box posts (never a GET with the text in the address)."""
    email = await make_person(seeded, "editor", blogs=(SLUG,))
    async with seeded.client() as c:
        csrf = await sign_in(c, email)
        form = (await c.get(f"/newsroom/blogs/{SLUG}")).text
        assert f'method="post" action="/newsroom/blogs/{SLUG}/compose"' in form
        r = await c.post(
            f"/newsroom/blogs/{SLUG}/compose",
            data={"headline": "Filed without script", "body": "**Bold**", "people": "Ed, Flo",
                  "location": "Kyiv", "kind": "published", "key_event": "1", "csrf_token": csrf},
        )  # fmt: skip
        assert r.status_code == 303 and "Filed" not in r.headers["location"]
        post = (await c.get(f"/api/v1/blogs/{SLUG}/posts?limit=1")).json()["posts"][0]
        assert post["headline"] == "Filed without script" and post["key_event"] is True
        assert post["byline"] == {"people": [{"name": "Ed"}, {"name": "Flo"}], "location": "Kyiv"}
        # A time the clocks skip in the blog's zone: refused, what was typed kept.
        await c.patch(f"/api/v1/blogs/{SLUG}", json={"timezone": "America/New_York"},
                      headers={"X-CSRF-Token": csrf})  # fmt: skip
        r = await c.post(
            f"/newsroom/blogs/{SLUG}/compose",
            data={"headline": "At a missing time", "body": "Later.", "kind": "scheduled",
                  "publish_at_local": "2027-03-14T02:30", "csrf_token": csrf},
        )  # fmt: skip
        assert r.status_code == 422 and "does not exist in America/New_York" in r.text
        assert 'value="At a missing time"' in r.text and 'value="2027-03-14T02:30"' in r.text
        r = await c.post(
            f"/newsroom/blogs/{SLUG}/compose",
            data={"headline": "Twice", "kind": "scheduled", "publish_at_local": "2026-11-01T01:30",
                  "csrf_token": csrf},
        )  # fmt: skip
        assert r.status_code == 422 and "1:30 a.m. EDT, then 1:30 a.m. EST" in r.text
        # An edit from a stale page: told, not applied.
        r = await c.post(
            f"/newsroom/blogs/{SLUG}/compose",
            data={"post_id": post["id"], "base_revision": "1", "headline": "v2", "kind": "save",
                  "csrf_token": csrf},
        )  # fmt: skip
        assert r.status_code == 303
        r = await c.post(
            f"/newsroom/blogs/{SLUG}/compose",
            data={"post_id": post["id"], "base_revision": "1", "headline": "stale", "kind": "save",
                  "csrf_token": csrf},
        )  # fmt: skip
        assert r.status_code == 409 and "has changed since revision 1" in r.text


def _input_tag(html: str, field_id: str) -> str:
    found = re.search(rf'<input id="{field_id}"[^>]*>', html)
    assert found, f"no #{field_id} in the page"
    return found.group(0)


async def test_the_compose_box_offers_the_writer_as_the_byline_and_approval_keeps_it(
    seeded: Running,
) -> None:
    email = await make_person(seeded, "contributor", blogs=(SLUG,))
    async with seeded.client() as c:
        csrf = await sign_in(c, email)
        page = (await c.get(f"/newsroom/blogs/{SLUG}")).text
        by = _input_tag(page, "c-people")
        assert 'name="people"' in by and 'value="The contributor"' in by
        assert "readonly" not in by and "disabled" not in by  # theirs to change
        # Sent as filled in ("Mine"), or changed to someone else ("Theirs").
        for headline, people in (("Mine", "The contributor"), ("Theirs", "Ana Ruiz")):
            r = await c.post(
                f"/newsroom/blogs/{SLUG}/compose",
                data={"headline": headline, "body": "Filed.", "people": people,
                      "kind": "submitted", "csrf_token": csrf},
            )  # fmt: skip
            assert r.status_code == 303, r.text
    async with seeded.client(seeded.token) as c:
        submitted = {p.headline: p for p in await seeded.newsroom.newsroom_posts(
            seeded.admin, SLUG, (PostStatus.SUBMITTED,))}  # fmt: skip
        for headline, name in (("Mine", "The contributor"), ("Theirs", "Ana Ruiz")):
            path = f"/api/v1/blogs/{SLUG}/posts/{submitted[headline].id}"
            r = await c.patch(path, json={"status": "published"})  # the editor approves
            assert r.status_code == 200, r.text
            assert r.json()["byline"]["people"] == [{"name": name}]
