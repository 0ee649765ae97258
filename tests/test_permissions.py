"""Who may do what: every write endpoint and console action, for each kind of person, as one table.

The six actors are an anonymous reader, a contributor and an editor who are members of the seed
blog, a contributor and an editor who are not, and an admin. The table is run once with API tokens
(`Authorization: Bearer`) and once with console sessions (cookie + CSRF token); console forms are
never reachable with a bearer token. Each request gets fresh resources made by someone allowed to
make them, and every refusal is checked to have left the database and the media folder as they
were. Mismatches are collected and reported together, so one run shows the whole picture."""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from PIL import Image

from dateline.model import User
from dateline.store import schema as t
from tests.conftest import Running

SLUG = "xi-putin-moscow"
BLOG = f"/api/v1/blogs/{SLUG}"
POSTS = f"{BLOG}/posts"
PASSWORD = "correct horse battery"

ANONYMOUS = "anonymous"
CONTRIBUTOR_OUT = "contributor-not-member"
CONTRIBUTOR_IN = "contributor-member"
EDITOR_IN = "editor-member"
EDITOR_OUT = "editor-not-member"
ADMIN = "admin"
ACTORS = (ANONYMOUS, CONTRIBUTOR_OUT, CONTRIBUTOR_IN, EDITOR_IN, EDITOR_OUT, ADMIN)
SIGNED_IN = ACTORS[1:]
# actor -> (role, member of the seed blog?)
ROLES = {
    CONTRIBUTOR_OUT: ("contributor", False),
    CONTRIBUTOR_IN: ("contributor", True),
    EDITOR_IN: ("editor", True),
    EDITOR_OUT: ("editor", False),
    ADMIN: ("admin", False),  # admins work on every blog without a membership
}

_unique = itertools.count(1)
Ctx = dict[str, str]


# -- the cast ----------------------------------------------------------------------------------


@dataclass
class Person:
    user: User
    email: str
    token: str


@dataclass
class Caller:
    """One actor's way in: a client carrying a bearer token or a session cookie, and the CSRF
    token to send with writes (None: send none)."""

    client: httpx.AsyncClient
    csrf: str | None = None

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} if self.csrf else {}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def form(self, path: str, fields: dict[str, str]) -> httpx.Response:
        data = {**fields, "csrf_token": self.csrf} if self.csrf else fields
        return await self.client.post(path, data=data)

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path)


@dataclass
class Cast:
    running: Running
    people: dict[str, Person]
    stack: AsyncExitStack
    _bearers: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    async def bearer(self, actor: str) -> httpx.AsyncClient:
        """A token client for `actor`, for making resources whatever mode is under test."""
        if actor not in self._bearers:
            client = self.running.client(self.people[actor].token)
            self._bearers[actor] = await self.stack.enter_async_context(client)
        return self._bearers[actor]

    async def anonymous(self) -> httpx.AsyncClient:
        return await self.stack.enter_async_context(self.running.client())

    async def token_callers(self) -> dict[str, Caller]:
        callers = {ANONYMOUS: Caller(await self.anonymous())}
        for actor in SIGNED_IN:
            callers[actor] = Caller(await self.bearer(actor))
        return callers

    async def session_callers(self) -> dict[str, Caller]:
        callers = {ANONYMOUS: Caller(await self.anonymous())}
        for actor in SIGNED_IN:
            client = await self.stack.enter_async_context(self.running.client())
            csrf = await sign_in(client, self.people[actor].email)
            callers[actor] = Caller(client, csrf)
        return callers


@asynccontextmanager
async def cast_of(running: Running) -> AsyncIterator[Cast]:
    """The five signed-in actors, each with a password and an API token."""
    people = {}
    for actor, (role, member) in ROLES.items():
        email = f"{actor}-{next(_unique)}@example.org"
        user = await running.newsroom.create_user(
            None,
            email=email,
            name=f"The {actor}",
            role=role,
            password=PASSWORD,
            blogs=(SLUG,) if member else (),
        )
        people[actor] = Person(user, email, await running.newsroom.issue_token(user))
    async with AsyncExitStack() as stack:
        yield Cast(running, people, stack)


async def sign_in(client: httpx.AsyncClient, email: str) -> str:
    """Sign in through the console's form; the session's CSRF token, from the console's meta."""
    form = (await client.get("/newsroom/login")).text
    login_csrf = re.search(r'name="csrf_token" value="([^"]*)"', form)
    assert login_csrf, "no csrf_token in the sign-in form"
    r = await client.post(
        "/newsroom/login",
        data={"email": email, "password": PASSWORD, "csrf_token": login_csrf.group(1)},
    )
    assert r.status_code == 303, r.text
    home = (await client.get("/newsroom/")).text
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', home)
    assert csrf, "no csrf-token meta in the console"
    return csrf.group(1)


# -- what "nothing changed" means ----------------------------------------------------------------


async def fingerprint(running: Running) -> tuple[Any, ...]:
    """Everything a write could change: blogs in full (headers, last_seq, post_count), who exists
    with which role, memberships, tokens, and the posts, revisions, media and events written."""
    async with running.store.engines.read.connect() as conn:

        async def rows(query: Any) -> tuple[tuple[Any, ...], ...]:
            return tuple(tuple(r) for r in await conn.execute(query))

        async def count(table: sa.Table) -> int:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)

        found = (
            await rows(sa.select(t.blogs).order_by(t.blogs.c.id)),
            await rows(sa.select(t.users.c.id, t.users.c.email, t.users.c.role)),
            await rows(sa.select(t.memberships).order_by(*t.memberships.c)),
            await rows(sa.select(t.api_tokens.c.id, t.api_tokens.c.revoked_at)),
            # Every post write sets updated_at to now, so the newest one moves with any change.
            await rows(sa.select(sa.func.count(), sa.func.max(t.posts.c.updated_at))),
            await count(t.revisions),
            await count(t.media),
            await count(t.events),
        )
    media_dir = Path(running.services.settings.media_dir)
    files = sorted(p.name for p in media_dir.iterdir()) if media_dir.exists() else []
    return (*found, tuple(files))


# -- resources made fresh for each request -------------------------------------------------------


async def _post(client: httpx.AsyncClient, **fields: Any) -> Ctx:
    n = next(_unique)
    r = await client.post(POSTS, json={"headline": f"Setup {n}", "body": "As filed.", **fields})
    assert r.status_code == 201, r.text
    return {"post": r.json()["id"]}


async def admins_published_post(cast: Cast, actor: str) -> Ctx:
    return await _post(await cast.bearer(ADMIN))


async def admins_draft(cast: Cast, actor: str) -> Ctx:
    return await _post(await cast.bearer(ADMIN), status="draft")


async def contributors_draft(cast: Cast, actor: str) -> Ctx:
    return await _post(await cast.bearer(CONTRIBUTOR_IN), status="draft")


async def contributors_submission(cast: Cast, actor: str) -> Ctx:
    return await _post(await cast.bearer(CONTRIBUTOR_IN), status="submitted")


async def fresh_slug(cast: Cast, actor: str) -> Ctx:
    return {"slug": f"perm-{next(_unique)}"}


async def fresh_image(cast: Cast, actor: str) -> Ctx:
    # A different colour each time, so each upload is a new file (uploads are keyed by content).
    n = next(_unique)
    image = Image.new("RGB", (48, 32), (n % 256, (n // 256) % 256, 90))
    out = io.BytesIO()
    image.save(out, "PNG")
    return {"png": out.getvalue().hex()}


async def header_form(cast: Cast, actor: str) -> Ctx:
    """The seed blog's header form as the console fills it, with a new title."""
    blog = await cast.running.store.get_blog(SLUG)
    return {
        "title": f"Xi and Putin meet, take {next(_unique)}",
        "summary": blog.summary,
        "organisation": blog.organisation,
        "authors": "\n".join(a.name for a in blog.authors),
        "timezone": blog.timezone,
        "status": blog.status.value,
    }


async def a_score_box(cast: Cast, actor: str) -> Ctx:
    """The seed blog with a score box, for the clicks that count on it."""
    admin = await cast.bearer(ADMIN)
    box = {"sides": [{"name": "Arsenal"}, {"name": "Chelsea"}]}
    r = await admin.patch(BLOG, json={"score": box})
    assert r.status_code == 200, r.text
    return {}


async def someone_new(cast: Cast, actor: str) -> Ctx:
    email = f"someone-{next(_unique)}@example.org"
    user = await cast.running.newsroom.create_user(
        None, email=email, name="Someone", role="contributor"
    )
    return {"email": email, "user_id": str(user.id)}


async def someone_new_on_the_blog(cast: Cast, actor: str) -> Ctx:
    email = f"member-{next(_unique)}@example.org"
    user = await cast.running.newsroom.create_user(
        None, email=email, name="Member", role="contributor", blogs=(SLUG,)
    )
    return {"user_id": str(user.id)}


async def _token_of(cast: Cast, whose: str) -> Ctx:
    user = cast.people[whose].user
    await cast.running.newsroom.issue_token(user, "to revoke")
    assert user.id is not None
    newest = (await cast.running.store.list_tokens(user.id))[0]
    return {"token_id": str(newest.id)}


async def own_token(cast: Cast, actor: str) -> Ctx:
    return await _token_of(cast, actor if actor != ANONYMOUS else ADMIN)


async def someone_elses_token(cast: Cast, actor: str) -> Ctx:
    return await _token_of(cast, EDITOR_IN if actor != EDITOR_IN else EDITOR_OUT)


def in_an_hour() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).isoformat()


# -- the table -----------------------------------------------------------------------------------

Setup = Callable[[Cast, str], Awaitable[Ctx]]
Act = Callable[[Caller, Ctx], Awaitable[httpx.Response]]
Verify = Callable[[str, httpx.Response], str | None]


@dataclass(frozen=True)
class Row:
    name: str
    act: Act
    expected: dict[str, int]
    setup: Setup | None = None
    console: bool = False  # a console page or form: sessions only, never a bearer token
    writes: bool = True
    verify: Verify | None = None  # what a success must also show; a problem, or None


def want(*, anon: int, c_out: int, c_in: int, e_in: int, e_out: int, admin: int) -> dict[str, int]:
    return {
        ANONYMOUS: anon,
        CONTRIBUTOR_OUT: c_out,
        CONTRIBUTOR_IN: c_in,
        EDITOR_IN: e_in,
        EDITOR_OUT: e_out,
        ADMIN: admin,
    }


def _lands_as_its_role_allows(actor: str, r: httpx.Response) -> str | None:
    # Without a status, editors publish and contributors only ever submit for review.
    status = r.json().get("status")
    should = "submitted" if actor.startswith("contributor") else "published"
    return None if status == should else f"a post without a status became {status!r}"


def _post_path(x: Ctx) -> str:
    return f"{POSTS}/{x['post']}"


ROWS = [
    # -- blogs ---------------------------------------------------------------------------------
    Row(
        "POST /api/v1/blogs (create a blog)",
        lambda c, x: c.api("POST", "/api/v1/blogs", json={"slug": x["slug"], "title": "New"}),
        want(anon=401, c_out=403, c_in=403, e_in=201, e_out=201, admin=201),
        setup=fresh_slug,
    ),
    Row(
        "PATCH /api/v1/blogs/{slug} (header)",
        lambda c, x: c.api("PATCH", BLOG, json={"title": f"Retitled {next(_unique)}"}),
        want(anon=401, c_out=403, c_in=403, e_in=200, e_out=403, admin=200),
    ),
    # -- the score box ---------------------------------------------------------------------------
    Row(
        "PATCH /api/v1/blogs/{slug} (set the score box)",
        lambda c, x: c.api(
            "PATCH", BLOG, json={"score": {"sides": [{"name": "Home"}, {"name": "Away"}]}}
        ),
        want(anon=401, c_out=403, c_in=403, e_in=200, e_out=403, admin=200),
    ),
    Row(
        "POST /api/v1/blogs/{slug}/score (+1)",
        lambda c, x: c.api("POST", f"{BLOG}/score", json={"side": 0, "by": 1}),
        want(anon=401, c_out=403, c_in=403, e_in=200, e_out=403, admin=200),
        setup=a_score_box,
    ),
    # -- writing posts ---------------------------------------------------------------------------
    Row(
        "POST …/posts status published",
        lambda c, x: c.api("POST", POSTS, json={"headline": "Now", "status": "published"}),
        want(anon=401, c_out=403, c_in=403, e_in=201, e_out=403, admin=201),
    ),
    Row(
        "POST …/posts without a status (editors publish, contributors submit)",
        lambda c, x: c.api("POST", POSTS, json={"headline": "Default"}),
        want(anon=401, c_out=403, c_in=201, e_in=201, e_out=403, admin=201),
        verify=_lands_as_its_role_allows,
    ),
    Row(
        "POST …/posts status submitted",
        lambda c, x: c.api("POST", POSTS, json={"headline": "Review", "status": "submitted"}),
        want(anon=401, c_out=403, c_in=201, e_in=201, e_out=403, admin=201),
    ),
    Row(
        "POST …/posts status draft",
        lambda c, x: c.api("POST", POSTS, json={"headline": "Later", "status": "draft"}),
        want(anon=401, c_out=403, c_in=201, e_in=201, e_out=403, admin=201),
    ),
    Row(
        "POST …/posts status scheduled with publish_at",
        lambda c, x: c.api(
            "POST",
            POSTS,
            json={"headline": "At noon", "status": "scheduled", "publish_at": in_an_hour()},
        ),
        want(anon=401, c_out=403, c_in=403, e_in=201, e_out=403, admin=201),
    ),
    Row(
        "POST …/posts pinned key event",
        lambda c, x: c.api(
            "POST", POSTS, json={"headline": "Big", "pinned": True, "key_event": True}
        ),
        want(anon=401, c_out=403, c_in=403, e_in=201, e_out=403, admin=201),
    ),
    # -- changing posts --------------------------------------------------------------------------
    Row(
        "PATCH …/posts/{id} body of a published post",
        lambda c, x: c.api("PATCH", _post_path(x), json={"body": "Rewritten.", "base_revision": 1}),
        want(anon=401, c_out=403, c_in=403, e_in=200, e_out=403, admin=200),
        setup=admins_published_post,
    ),
    Row(
        "PATCH …/posts/{id} pinned",
        lambda c, x: c.api("PATCH", _post_path(x), json={"pinned": True}),
        want(anon=401, c_out=403, c_in=403, e_in=200, e_out=403, admin=200),
        setup=admins_published_post,
    ),
    Row(
        "PATCH …/posts/{id} key_event",
        lambda c, x: c.api("PATCH", _post_path(x), json={"key_event": True}),
        want(anon=401, c_out=403, c_in=403, e_in=200, e_out=403, admin=200),
        setup=admins_published_post,
    ),
    Row(
        "PATCH …/posts/{id} status published on a submitted post (approve)",
        lambda c, x: c.api("PATCH", _post_path(x), json={"status": "published"}),
        want(anon=401, c_out=403, c_in=403, e_in=200, e_out=403, admin=200),
        setup=contributors_submission,
    ),
    Row(
        "PATCH …/posts/{id} the contributor's own draft",
        lambda c, x: c.api(
            "PATCH", _post_path(x), json={"body": "More detail.", "base_revision": 1}
        ),
        want(anon=401, c_out=403, c_in=200, e_in=200, e_out=403, admin=200),
        setup=contributors_draft,
    ),
    Row(
        "PATCH …/posts/{id} someone else's draft",
        lambda c, x: c.api("PATCH", _post_path(x), json={"body": "Not mine.", "base_revision": 1}),
        want(anon=401, c_out=403, c_in=403, e_in=200, e_out=403, admin=200),
        setup=admins_draft,
    ),
    Row(
        "PATCH …/posts/{id} schedule the contributor's own draft",
        lambda c, x: c.api(
            "PATCH", _post_path(x), json={"status": "scheduled", "publish_at": in_an_hour()}
        ),
        want(anon=401, c_out=403, c_in=403, e_in=200, e_out=403, admin=200),
        setup=contributors_draft,
    ),
    Row(
        "DELETE …/posts/{id} a published post, with a reason",
        lambda c, x: c.api("DELETE", _post_path(x), json={"reason": "Duplicate."}),
        want(anon=401, c_out=403, c_in=403, e_in=200, e_out=403, admin=200),
        setup=admins_published_post,
    ),
    Row(
        "DELETE …/posts/{id} the contributor's own draft",
        lambda c, x: c.api("DELETE", _post_path(x), json={"reason": "Dropped."}),
        want(anon=401, c_out=403, c_in=200, e_in=200, e_out=403, admin=200),
        setup=contributors_draft,
    ),
    # -- history ---------------------------------------------------------------------------------
    Row(
        "GET …/posts/{id}/revisions of someone else's post",
        lambda c, x: c.get(f"{_post_path(x)}/revisions"),
        want(anon=401, c_out=403, c_in=403, e_in=200, e_out=403, admin=200),
        setup=admins_published_post,
        writes=False,
    ),
    Row(
        "GET …/posts/{id}/revisions of the contributor's own post",
        lambda c, x: c.get(f"{_post_path(x)}/revisions"),
        want(anon=401, c_out=403, c_in=200, e_in=200, e_out=403, admin=200),
        setup=contributors_draft,
        writes=False,
    ),
    # -- uploads: uploading is not publishing ----------------------------------------------------
    Row(
        "POST /api/v1/media (image with alt, caption, credit)",
        lambda c, x: c.api(
            "POST",
            "/api/v1/media",
            files={"file": ("photo.png", bytes.fromhex(x["png"]), "image/png")},
            data={"alt": "Two men shake hands", "caption": "In Moscow.", "credit": "Pool"},
        ),
        want(anon=401, c_out=201, c_in=201, e_in=201, e_out=201, admin=201),
        setup=fresh_image,
    ),
    # -- the console -----------------------------------------------------------------------------
    Row(
        "POST /newsroom/blogs (create a blog)",
        lambda c, x: c.form("/newsroom/blogs", {"slug": x["slug"], "title": "From the console"}),
        want(anon=401, c_out=403, c_in=403, e_in=303, e_out=303, admin=303),
        setup=fresh_slug,
        console=True,
    ),
    Row(
        "POST /newsroom/blogs/{slug} (header)",
        lambda c, x: c.form(f"/newsroom/blogs/{SLUG}", x),
        want(anon=401, c_out=403, c_in=403, e_in=303, e_out=403, admin=303),
        setup=header_form,
        console=True,
    ),
    Row(
        "POST /newsroom/blogs/{slug}/score (+1)",
        lambda c, x: c.form(
            f"/newsroom/blogs/{SLUG}/score", {"action": "count", "side": "1", "by": "1"}
        ),
        want(anon=401, c_out=403, c_in=403, e_in=303, e_out=403, admin=303),
        setup=a_score_box,
        console=True,
    ),
    Row(
        "POST /newsroom/blogs/{slug}/members (add a member)",
        lambda c, x: c.form(f"/newsroom/blogs/{SLUG}/members", {"email": x["email"]}),
        want(anon=401, c_out=403, c_in=403, e_in=403, e_out=403, admin=303),
        setup=someone_new,
        console=True,
    ),
    Row(
        "POST /newsroom/blogs/{slug}/members/{id}/remove",
        lambda c, x: c.form(f"/newsroom/blogs/{SLUG}/members/{x['user_id']}/remove", {}),
        want(anon=401, c_out=403, c_in=403, e_in=403, e_out=403, admin=303),
        setup=someone_new_on_the_blog,
        console=True,
    ),
    Row(
        "POST /newsroom/users (create a user)",
        lambda c, x: c.form(
            "/newsroom/users",
            {"email": f"new-{next(_unique)}@example.org", "name": "New", "role": "editor"},
        ),
        want(anon=401, c_out=403, c_in=403, e_in=403, e_out=403, admin=303),
        console=True,
    ),
    Row(
        "POST /newsroom/users/{id}/role",
        lambda c, x: c.form(f"/newsroom/users/{x['user_id']}/role", {"role": "admin"}),
        want(anon=401, c_out=403, c_in=403, e_in=403, e_out=403, admin=303),
        setup=someone_new,
        console=True,
    ),
    Row(
        "POST /newsroom/tokens (issue yourself a token)",
        lambda c, x: c.form("/newsroom/tokens", {"label": "wire feed"}),
        want(anon=401, c_out=201, c_in=201, e_in=201, e_out=201, admin=201),
        console=True,
    ),
    Row(
        "POST /newsroom/tokens/{id}/revoke your own token",
        lambda c, x: c.form(f"/newsroom/tokens/{x['token_id']}/revoke", {}),
        want(anon=401, c_out=303, c_in=303, e_in=303, e_out=303, admin=303),
        setup=own_token,
        console=True,
    ),
    Row(
        # The tokens page is "your tokens", for admins too: another's id is simply not found.
        "POST /newsroom/tokens/{id}/revoke someone else's token",
        lambda c, x: c.form(f"/newsroom/tokens/{x['token_id']}/revoke", {}),
        want(anon=401, c_out=404, c_in=404, e_in=404, e_out=404, admin=404),
        setup=someone_elses_token,
        console=True,
    ),
    Row(
        "GET /newsroom/blogs/{slug} (the blog's console)",
        lambda c, x: c.get(f"/newsroom/blogs/{SLUG}"),
        want(anon=303, c_out=403, c_in=200, e_in=200, e_out=403, admin=200),
        console=True,
        writes=False,
    ),
    Row(
        "GET /newsroom/users",
        lambda c, x: c.get("/newsroom/users"),
        want(anon=303, c_out=403, c_in=403, e_in=403, e_out=403, admin=200),
        console=True,
        writes=False,
    ),
]


def expected_with_a_token(row: Row, actor: str) -> int:
    """A bearer token is not a console session: its forms answer 401, its pages the sign-in."""
    if row.console and actor != ANONYMOUS:
        return 401 if row.writes else 303
    return row.expected[actor]


async def run_table(
    cast: Cast,
    callers: dict[str, Caller],
    rows: list[Row],
    expected: Callable[[Row, str], int],
    must_say: str = "",
) -> list[str]:
    """Every row for every caller; one line per way the server did not do what the table says."""
    problems = []
    for row in rows:
        for actor, caller in callers.items():
            ctx = await row.setup(cast, actor) if row.setup else {}
            before = await fingerprint(cast.running)
            r = await row.act(caller, ctx)
            after = await fingerprint(cast.running)
            want_status = expected(row, actor)
            where = f"{row.name} as {actor}"
            body = r.text[:300].replace("\n", " ")
            if r.status_code != want_status:
                problems.append(f"{where}: expected {want_status}, got {r.status_code}: {body}")
            elif must_say and must_say not in r.text:
                problems.append(f"{where}: the {r.status_code} does not say {must_say}: {body}")
            succeeded = r.status_code < 400
            if row.writes and not succeeded and before != after:
                problems.append(f"{where}: refused with {r.status_code} but changed the store")
            if row.writes and succeeded and before == after:
                problems.append(f"{where}: answered {r.status_code} but wrote nothing")
            if not row.writes and before != after:
                problems.append(f"{where}: a read changed the store")
            if succeeded and r.status_code == want_status and row.verify:
                problem = row.verify(actor, r)
                if problem:
                    problems.append(f"{where}: {problem}")
    return problems


def report(problems: list[str]) -> str:
    return f"{len(problems)} permission mismatches:\n" + "\n".join(problems)


async def test_each_role_may_do_exactly_its_share_with_an_api_token(seeded: Running) -> None:
    async with cast_of(seeded) as cast:
        callers = await cast.token_callers()
        problems = await run_table(cast, callers, ROWS, expected_with_a_token)
    assert not problems, report(problems)


async def test_each_role_may_do_exactly_its_share_in_a_console_session(seeded: Running) -> None:
    async with cast_of(seeded) as cast:
        callers = await cast.session_callers()
        problems = await run_table(cast, callers, ROWS, lambda row, actor: row.expected[actor])
    assert not problems, report(problems)


async def test_session_writes_without_their_own_csrf_token_are_refused_and_change_nothing(
    seeded: Running,
) -> None:
    async with cast_of(seeded) as cast:
        sessions = await cast.session_callers()
        del sessions[ANONYMOUS]
        writes = [row for row in ROWS if row.writes]
        missing = {actor: Caller(s.client) for actor, s in sessions.items()}
        # Each session sends the next one's token: a real token, but not its own.
        others = list(sessions)[1:] + list(sessions)[:1]
        borrowed = {
            actor: Caller(s.client, sessions[other].csrf)
            for (actor, s), other in zip(sessions.items(), others, strict=True)
        }
        problems = []
        for callers in (missing, borrowed):
            problems += await run_table(cast, callers, writes, lambda row, actor: 403, "CSRF")
    assert not problems, report(problems)


async def test_who_may_act_is_checked_before_what_they_sent(seeded: Running) -> None:
    """A refusal says the caller may not do this, whatever else is wrong with the request."""
    async with cast_of(seeded) as cast:
        contributor = await cast.bearer(CONTRIBUTOR_IN)
        outsider = await cast.bearer(EDITOR_OUT)
        draft = (await _post(contributor, status="draft"))["post"]
        asks = [
            (contributor, "POST", POSTS, {"headline": "x", "status": "scheduled"}),
            (contributor, "POST", POSTS, {"status": "published", "headline": 7}),
            (contributor, "POST", POSTS, {"pinned": True, "tags": "not a list"}),
            (contributor, "PATCH", f"{POSTS}/{draft}", {"status": "scheduled"}),
            (contributor, "PATCH", f"{POSTS}/{draft}", {"key_event": "yes"}),
            (contributor, "PATCH", BLOG, {"title": ""}),
            (outsider, "POST", POSTS, {"headline": 7}),
            (outsider, "PATCH", f"{POSTS}/{draft}", {"status": "nonsense"}),
            (outsider, "PATCH", BLOG, {"timezone": "Mars/Olympus"}),
        ]
        for client, method, path, body in asks:
            r = await client.request(method, path, json=body)
            assert r.status_code == 403, (method, path, body, r.text)
