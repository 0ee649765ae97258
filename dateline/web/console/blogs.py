"""The newsroom console at /newsroom/: sign-in, blogs, the compose box and the stream of posts.

Pages are server-rendered; the console's script (static/console.js) writes posts through the JSON
API with the session cookie and the CSRF token. Every form here carries the CSRF token too, and
every write goes through the newsroom, which decides who may do what."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from dateline import render
from dateline.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Invalid,
    PreconditionRequired,
    Unauthorized,
)
from dateline.model import Blog, Post, PostStatus, WebhookState
from dateline.newsroom import permissions, urls
from dateline.newsroom.cases import parse
from dateline.newsroom.inputs import PostPatch
from dateline.newsroom.permissions import Action
from dateline.newsroom.shapes import post_json
from dateline.web.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    check_csrf,
    clear_session_cookie,
    current_session,
    set_session_cookie,
)
from dateline.web.console.base import (
    NO_STORE,
    form_again,
    page,
    read_form,
    signed_in,
    text,
    to_login,
)
from dateline.web.reader.views import blog_view, embed_snippet, post_view, score_view
from dateline.web.responses import JSONResponse, read_json
from dateline.web.security import same_secret
from dateline.web.services import services

LOGIN_CSRF_COOKIE = "dateline_login_csrf"


# -- signing in and out ---------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    session = await current_session(request)
    next_url = _safe_next(request.query_params.get("next"))
    if session is not None:
        return RedirectResponse(next_url, status_code=303)
    return _login_form(request, next_url, error=None)


def _login_form(request: Request, next_url: str, error: str | None, status: int = 200) -> Response:
    # Signing in has no session yet, so the form's CSRF token is a double-submit cookie.
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", None, login_csrf=token, next_url=next_url, error=error)
    response.status_code = status
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, max_age=3600, path="/newsroom/login", httponly=True,
        samesite="strict", secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


def _safe_next(value: str | None) -> str:
    # Only paths inside the console: never an open redirect to another site.
    if value and value.startswith("/newsroom/") and not value.startswith("//"):
        return value
    return "/newsroom/"


async def login(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    next_url = _safe_next(text(form, "next"))
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    sent = text(form, CSRF_FIELD)
    if not cookie or not same_secret(cookie, sent):
        raise Forbidden("the sign-in form expired; reload the page and sign in again")
    address = request.client.host if request.client else "unknown"
    newsroom = services(request).newsroom
    try:
        user = await newsroom.sign_in(text(form, "email"), text(form, "password"), address)
    except Unauthorized as exc:
        return _login_form(request, next_url, exc.message, status=401)
    session_id, _ = await newsroom.start_session(user)
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(request, response, session_id)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/newsroom/login")
    return response


async def logout(request: Request) -> Response:
    session = await signed_in(request)
    await read_form(request, session)
    await services(request).newsroom.end_session(session.id_hash)
    response = RedirectResponse("/newsroom/login", status_code=303)
    clear_session_cookie(response)
    return response


# -- blogs ----------------------------------------------------------------------------------


async def home(request: Request, **form: Any) -> Response:
    """The console's front page (`form`: a refused new-blog form's values and errors)."""
    session = await current_session(request)
    if session is None:
        return to_login(request)
    blogs = await services(request).newsroom.blogs_of(session.user)
    return page(
        request, "home.html", session, blogs=[blog_view(b) for b in blogs], zones=_ZONES, **form
    )


async def create_blog(request: Request) -> Response:
    session = await signed_in(request)
    form = await read_form(request, session)
    data = {
        "slug": text(form, "slug").strip(),
        "title": text(form, "title"),
        "summary": text(form, "summary"),
        "organisation": text(form, "organisation"),
        "authors": _people(text(form, "authors")),
        "timezone": text(form, "timezone").strip() or "UTC",
        "status": text(form, "status") or "live",
    }
    try:
        blog = await services(request).newsroom.create_blog(session.user, data)
    except (Invalid, Conflict, BadRequest) as exc:
        return await form_again(request, home, exc, form)
    return RedirectResponse(f"/newsroom/blogs/{blog.slug}", status_code=303)


def _people(lines: str) -> list[dict[str, str]]:
    return [
        {"name": line.strip()} for line in lines.replace(",", "\n").splitlines() if line.strip()
    ]


async def update_blog(request: Request) -> Response:
    session = await signed_in(request)
    form = await read_form(request, session)
    data = {
        "title": text(form, "title"),
        "summary": text(form, "summary"),
        "organisation": text(form, "organisation"),
        "authors": _people(text(form, "authors")),
        "timezone": text(form, "timezone").strip(),
        "status": text(form, "status"),
    }
    slug = request.path_params["slug"]
    try:
        await services(request).newsroom.update_blog(session.user, slug, data)
    except (Invalid, Conflict, BadRequest) as exc:
        return await form_again(request, blog_console, exc, form)
    return RedirectResponse(f"/newsroom/blogs/{slug}?saved=header", status_code=303)


async def blog_console(request: Request, **form: Any) -> Response:
    session = await current_session(request)
    if session is None:
        return to_login(request)
    user = session.user
    found = services(request)
    newsroom = found.newsroom
    blog = await newsroom.open_blog(user, request.path_params["slug"])
    lists: dict[str, list[dict[str, Any]]] = {}
    for name, status in (
        ("review", PostStatus.SUBMITTED),
        ("drafts", PostStatus.DRAFT),
        ("scheduled", PostStatus.SCHEDULED),
    ):
        posts = await newsroom.newsroom_posts(user, blog.slug, (status,))
        lists[name] = [_console_post(p, blog) for p in posts]
    published, _ = await found.store.list_posts(blog, limit=50)
    origin = f"{request.url.scheme}://{request.url.netloc}"
    members = await newsroom.members(blog.slug)
    people = sorted({a.name for a in blog.authors} | {m.name for m in members})
    member = await newsroom.member(user, blog)
    can_webhooks = permissions.may(user, Action.WEBHOOKS, blog=blog, member=member)
    hooks = (await newsroom.webhooks(user, blog.slug))[1] if can_webhooks else []
    return page(
        request,
        "blog.html",
        session,
        blog=blog_view(blog),
        blog_summary=blog.summary,
        authors="\n".join(a.name for a in blog.authors),
        organisation=blog.organisation,
        published=[_console_post(p, blog) for p in published],
        lists=lists,
        members=members,
        people=people,
        can_publish=permissions.may(user, Action.PUBLISH, blog=blog, member=member),
        can_notify=permissions.may(user, Action.NOTIFY, blog=blog, member=member),
        score=score_view(blog.score.to_json() if blog.score else None),
        can_keep_score=permissions.may(user, Action.KEEP_SCORE, blog=blog, member=member),
        embed_html=embed_snippet(origin, blog.slug),
        reader_url=urls.blog_path(blog.slug),
        zones=_ZONES,
        zone_names=_zone_names(blog),
        saved=request.query_params.get("saved"),
        can_webhooks=can_webhooks,
        webhook_count=len(hooks),
        paused_webhooks=[h for h in hooks if h.state is WebhookState.PAUSED],
        **form,
    )


def _console_post(post: Post, blog: Blog) -> dict[str, Any]:
    view = post_view(post_json(post), blog)
    view["publish_at"] = render.rfc3339(post.publish_at) if post.publish_at else None
    view["review_note"] = post.review_note
    view["notify"] = post.notify
    view["publish_at_ap"] = (
        render.ap_datetime(post.publish_at, blog.timezone) if post.publish_at else ""
    )
    view["excerpt"] = _excerpt(post.body)
    return view


def _zone_names(blog: Blog) -> str:
    """For the compose box's script: the blog's zone abbreviations by UTC offset, as JSON."""
    names = render.zone_names(blog.timezone, datetime.now(UTC))
    return json.dumps({str(offset): name for offset, name in names.items()})


def _excerpt(markdown: str, size: int = 240) -> str:
    """The start of a post's words as text (no `**` or `##`), for lists."""
    words = " ".join(render.plain_text(markdown).split())
    return words if len(words) <= size else words[: size - 1].rstrip() + "…"


async def post_editor(request: Request, **form: Any) -> Response:
    session = await current_session(request)
    if session is None:
        return to_login(request)
    user = session.user
    newsroom = services(request).newsroom
    blog = await newsroom.open_blog(user, request.path_params["slug"])
    post = await newsroom.read_post(user, blog.slug, request.path_params["post_id"])
    member = await newsroom.member(user, blog)
    # What this user may do to this post decides what the page offers: someone who may not
    # edit it reads it, and is told why.
    why_not = permissions.refusal(user, Action.EDIT_POST, blog=blog, member=member, post=post)
    history = permissions.may(user, Action.SEE_HISTORY, blog=blog, member=member, post=post)
    revisions = await newsroom.revisions(user, blog.slug, post.id) if history else []
    members = await newsroom.members(blog.slug)
    return page(
        request,
        "post.html",
        session,
        blog=blog_view(blog),
        post=_console_post(post, blog),
        revisions=[{**r.to_json(), "at_ap": render.ap_datetime(r.created_at, blog.timezone),
                    "excerpt": _excerpt(r.body, 400)}
                   for r in reversed(revisions)],
        people=sorted({a.name for a in blog.authors} | {m.name for m in members}),
        can_publish=permissions.may(user, Action.PUBLISH, blog=blog, member=member),
        can_notify=permissions.may(user, Action.NOTIFY, blog=blog, member=member),
        can_edit=why_not is None,
        read_only_reason=why_not,
        can_delete=permissions.may(user, Action.DELETE_POST, blog=blog, member=member, post=post),
        reader_url=urls.post_path(blog.slug, post.id),
        zone_names=_zone_names(blog),
        **form,
    )  # fmt: skip


def _names(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]


async def compose(request: Request) -> Response:
    """The compose box posted as a plain form (no JavaScript): a new post, or an edit of the
    post it names. The script writes through the JSON API instead; both end in the newsroom."""
    session = await signed_in(request)
    form = await read_form(request, session)
    slug = request.path_params["slug"]
    newsroom = services(request).newsroom
    kind = text(form, "kind") or "save"
    post_id = text(form, "post_id")
    data: dict[str, Any] = {
        "headline": text(form, "headline").strip(),
        "body": text(form, "body"),
        "byline": {
            "people": [{"name": n} for n in _names(text(form, "people"))],
            "location": text(form, "location").strip() or None,
        },
        "contributors": _names(text(form, "contributors")) or None,
    }
    for flag in ("key_event", "pinned"):
        if flag in form:
            data[flag] = True
    if "notify_offered" in form:  # the box is offered only to editors, before a post goes out
        data["notify"] = "notify" in form
    try:
        blog = await newsroom.open_blog(session.user, slug)
        poll = _poll_sent(form, blog.timezone)
        if poll is not None:
            data["poll"] = poll
        if kind == "scheduled":
            local = text(form, "publish_at_local")
            data["publish_at"] = render.wall_time(local, blog.timezone).isoformat()
        if post_id:
            if kind != "save":
                data["status"] = kind
            data["correction"] = text(form, "correction").strip() or None
            revision = text(form, "base_revision")
            if revision.isdigit():
                data["base_revision"] = int(revision)
            await newsroom.edit_post(session.user, slug, post_id, data)
        else:
            data["status"] = kind if kind != "save" else "draft"
            await newsroom.write_post(session.user, slug, data)
    except (Invalid, Conflict, BadRequest, Forbidden, PreconditionRequired) as exc:
        typed = {k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}
        if post_id:  # the editor page of that post, as the form came from it
            request.scope["path_params"] = {**request.path_params, "post_id": post_id}
            response = await post_editor(request, typed=typed, compose_error=exc.message)
        else:
            response = await blog_console(request, typed=typed, compose_error=exc.message)
        response.status_code = exc.status
        return response
    where = f"/newsroom/blogs/{slug}" + (f"/posts/{post_id}" if post_id else "")
    return RedirectResponse(f"{where}?saved={kind}", status_code=303)


def _poll_sent(form: Any, timezone: str) -> dict[str, Any] | None:
    """The compose box's poll fields as the API's `poll` object: a new poll (question, one
    option a line, the closing time on the blog's clock), or closing the post's poll now."""
    if "poll_close" in form:
        return {"close": True}
    question = text(form, "poll_question").strip()
    options = [line.strip() for line in text(form, "poll_options").splitlines() if line.strip()]
    if not question and not options:
        return None
    poll: dict[str, Any] = {"question": question, "options": options}
    local = text(form, "poll_closes_local")
    if local:
        poll["closes_at"] = render.wall_time(local, timezone).isoformat()
    return poll


async def presence(request: Request) -> Response:
    """The editor's heartbeat: who else has this post open (`{"leaving": true}` says goodbye)."""
    session = await signed_in(request)
    check_csrf(session, request.headers.get(CSRF_HEADER))
    data = await read_json(request, 1024, optional=True)
    editing = await services(request).newsroom.editing(
        session.user,
        request.path_params["slug"],
        request.path_params["post_id"],
        leaving=data.get("leaving") is True,
    )
    return JSONResponse({"editing": editing}, headers=NO_STORE)


async def preview(request: Request) -> Response:
    """The body as readers will see it, from the readers' own renderer."""
    session = await signed_in(request)
    check_csrf(session, request.headers.get(CSRF_HEADER))
    data = await read_json(request, services(request).settings.max_request_bytes)
    body = data.get("body")
    if not isinstance(body, str):
        raise BadRequest('send {"body": "Markdown"}', field="body")
    parse(PostPatch, {"body": body})  # the same limits as a real save
    # URLs alone on a line are fetched now (within the embed timeout), so the editor sees the
    # embed's card before publishing; the save that follows reuses the snapshot.
    html = await services(request).newsroom.preview_html(session.user, body)
    return JSONResponse({"html": html}, headers=NO_STORE)


# IANA zones a newsroom is most likely to pick; any other IANA name may be typed in.
_ZONES = (
    "UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "Europe/London", "Europe/Paris", "Europe/Berlin", "Europe/Kyiv", "Europe/Moscow",
    "Asia/Hong_Kong", "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney",
)  # fmt: skip


routes = [
    Route("/newsroom", lambda r: RedirectResponse("/newsroom/", status_code=308)),
    Route("/newsroom/", home),
    Route("/newsroom/login", login_page, methods=["GET"]),
    Route("/newsroom/login", login, methods=["POST"]),
    Route("/newsroom/logout", logout, methods=["POST"]),
    Route("/newsroom/preview", preview, methods=["POST"]),
    Route("/newsroom/blogs", create_blog, methods=["POST"]),
    Route("/newsroom/blogs/{slug}", blog_console, methods=["GET"]),
    Route("/newsroom/blogs/{slug}", update_blog, methods=["POST"]),
    Route("/newsroom/blogs/{slug}/posts/{post_id}", post_editor, methods=["GET"]),
    Route("/newsroom/blogs/{slug}/compose", compose, methods=["POST"]),
    Route("/newsroom/blogs/{slug}/posts/{post_id}/presence", presence, methods=["POST"]),
]
