"""Reader pages, server-rendered: they work without JavaScript."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from dateline import render
from dateline.errors import BadRequest, NotFound
from dateline.model import Blog, BlogStatus, Post
from dateline.newsroom import permissions, urls
from dateline.newsroom.shapes import decode_cursor, encode_cursor, post_json
from dateline.outbound import websub
from dateline.web.cache import cached
from dateline.web.reader import metadata
from dateline.web.reader.access import readable_blog
from dateline.web.reader.views import blog_view, post_view, score_view, tag_param
from dateline.web.services import services

HTML = "text/html; charset=utf-8"


def _render(request: Request, template: str, **context: object) -> HTMLResponse:
    return HTMLResponse(_html(request, template, **context))


def _html(request: Request, template: str, **context: object) -> bytes:
    return str(services(request).templates.get_template(template).render(**context)).encode()


async def _cached(
    request: Request,
    blog: Blog,
    key: tuple[str, ...],
    render: Callable[[], Awaitable[bytes]],
    media_type: str = HTML,
    *,
    shared: bool = True,
) -> Response:
    return await cached(request, blog, key, render, media_type, shared=shared)


async def index(request: Request) -> Response:
    # Draft blogs are not public: the newsroom finds them in the console.
    blogs = [b for b in await services(request).store.list_blogs() if permissions.public_blog(b)]
    return _render(request, "index.html", blogs=[blog_view(b) for b in blogs])


async def blog_page(request: Request) -> Response:
    blog, shared = await readable_blog(request)
    sort = request.query_params.get("sort", "newest")
    if sort not in ("newest", "oldest"):
        raise BadRequest(f"sort {sort!r} is unknown; use newest or oldest", field="sort")
    cursor = request.query_params.get("cursor") or None
    if cursor:
        decode_cursor(cursor)  # a bad cursor is the reader's error, not a page to cache
    tag = tag_param(request)

    async def page() -> bytes:
        return await _blog_page(request, blog, sort, cursor, tag)

    key = ("page", sort, cursor or "", tag or "")
    return await _cached(request, blog, key, page, shared=shared)


async def _blog_page(
    request: Request, blog: Blog, sort: str, cursor: str | None, tag: str | None
) -> bytes:
    state = services(request)
    newest_first = sort == "newest"
    posts, following = await state.store.list_posts(
        blog,
        newest_first=newest_first,
        limit=state.settings.page_size,
        after=decode_cursor(cursor),
        tag=tag,
    )
    views = [post_json(p) for p in posts]
    flagged = await state.store.flagged_posts(blog)
    # Search engines get the latest 50 posts as the blog's updates, whichever page this is.
    latest = views
    if cursor or not newest_first or len(views) < min(50, blog.post_count):
        latest = [post_json(p) for p in (await state.store.list_posts(blog, limit=50))[0]]
    context = blog_page_context(
        blog,
        views,
        flagged,
        latest,
        _origin(request),
        newest_first=newest_first,
        tag=tag,
        next_cursor=encode_cursor(following),
        # Live updates belong to the first page; later pages are history.
        live=not cursor,
    )
    # "Follow this story" (web push) while the story is live; the page's script shows the button
    # only where the browser can take notifications.
    if state.push is not None and blog.status is BlogStatus.LIVE and not cursor:
        context["follow_url"] = urls.followers_path(blog.slug)
    return _html(request, "blog.html", **context)


def blog_page_context(
    blog: Blog,
    views: list[dict[str, Any]],
    flagged: list[Post],
    latest: list[dict[str, Any]],
    origin: str,
    *,
    newest_first: bool,
    tag: str | None,
    next_cursor: str | None,
    live: bool,
) -> dict[str, Any]:
    """What blog.html shows: `views` (the contract's post JSON) in the order given, the pinned
    and key posts among `flagged`, and `latest` (newest first) as the structured data's updates.
    Without a request, so the static archive (dateline/exporters/html.py) renders it too."""
    description = render.plain_text(blog.summary) if blog.summary else _first_words(views, blog)
    flagged_views = [post_view(post_json(p), blog) for p in flagged]
    site = blog.organisation or "Dateline"
    blog_url = origin + urls.blog_path(blog.slug)
    image = metadata.first_image(latest, origin)
    query = {} if newest_first else {"sort": "oldest"}
    if tag:
        query["tag"] = tag
    next_url = urls.blog_path(blog.slug, **query, cursor=next_cursor) if next_cursor else None
    filtered = {"tag": tag} if tag else {}
    return {
        "b": blog_view(blog),
        "score": _score(blog),
        "posts": [post_view(p, blog) for p in views],
        "canonical": origin + urls.blog_path(blog.slug, **filtered),
        "social": metadata.social(blog.title, description, blog_url, image, site),
        "jsonld": metadata.script_json(metadata.live_blog_posting(blog, latest[:50], origin)),
        "pinned": [p for p in flagged_views if p["pinned"]],
        "key_events": [p for p in flagged_views if p["key_event"]],
        "newest_first": newest_first,
        "newest_url": urls.blog_path(blog.slug, **filtered),
        "oldest_url": urls.blog_path(blog.slug, sort="oldest", **filtered),
        "tag": tag,
        "all_url": urls.blog_path(blog.slug),
        "next_url": next_url,
        "live": live,
    }


async def post_page(request: Request) -> Response:
    state = services(request)
    blog, shared = await readable_blog(request)
    post_id = request.path_params["post_id"]

    async def page() -> bytes:
        post = await state.store.get_post(blog, post_id)
        if not permissions.on_readers_pages(post):
            raise NotFound(f"there is no post {post.id!r} in blog {blog.slug!r}")
        return _post_page(request, blog, post)

    return await _cached(request, blog, ("post", post_id), page, shared=shared)


def _post_page(request: Request, blog: Blog, post: Post) -> bytes:
    return _html(request, "post.html", **post_page_context(blog, post, _origin(request)))


def post_page_context(blog: Blog, post: Post, origin: str) -> dict[str, Any]:
    """What post.html shows of a published post (no request needed: the archive uses it)."""
    data = post_json(post)
    url = origin + data["url"]
    image = next(filter(None, (metadata.image_url(m, origin) for m in data["media"])), None)
    posting = {"@context": "https://schema.org", **metadata.blog_posting(data, blog, origin)}
    posting["isPartOf"] = {"@type": "LiveBlogPosting", "url": origin + urls.blog_path(blog.slug)}
    return {
        "b": blog_view(blog),
        "score": _score(blog),
        "p": post_view(data, blog),
        "canonical": url,
        "social": metadata.social(
            data["headline"] or blog.title,
            render.plain_text(post.body) or blog.title,
            url,
            image,
            blog.organisation or "Dateline",
        ),
        "jsonld": metadata.script_json(posting),
    }


def _embed_options(request: Request) -> tuple[int, bool, bool, bool]:
    """(posts shown, compact, the pinned post shown, key events shown) from the snippet's
    query: `?posts=1..50&layout=full|compact&pinned=1|0&key_events=1|0`."""
    q = request.query_params
    posts = q.get("posts", "10")
    if not posts.isdigit() or not 1 <= int(posts) <= 50:
        raise BadRequest("posts must be a whole number from 1 to 50", field="posts")
    layout = q.get("layout", "full")
    if layout not in ("full", "compact"):
        raise BadRequest("layout must be full or compact", field="layout")
    flags = []
    for name, default in (("pinned", "1"), ("key_events", "0")):
        value = q.get(name, default)
        if value not in ("0", "1"):
            raise BadRequest(f"{name} must be 1 or 0", field=name)
        flags.append(value == "1")
    return int(posts), layout == "compact", flags[0], flags[1]


async def embed(request: Request) -> Response:
    """A minimal live page for an iframe on another site (see docs/embedding.md)."""
    state = services(request)
    blog, shared = await readable_blog(request)
    count, compact, pinned, key_events = _embed_options(request)

    async def page() -> bytes:
        posts, _ = await state.store.list_posts(blog, limit=count)
        flagged = await state.store.flagged_posts(blog)
        context = embed_context(
            blog,
            posts,
            flagged,
            _origin(request),
            count=count,
            compact=compact,
            pinned=pinned,
            key_events=key_events,
        )
        return _html(request, "embed.html", **context)

    key = ("embed", str(count), str(compact), str(pinned), str(key_events))
    return await _cached(request, blog, key, page, shared=shared)


def embed_context(
    blog: Blog,
    posts: list[Post],
    flagged: list[Post],
    origin: str,
    *,
    count: int,
    compact: bool,
    pinned: bool,
    key_events: bool,
) -> dict[str, Any]:
    """What embed.html shows: the newest `posts` and, as asked, the pinned and key posts."""
    flagged_views = [post_view(post_json(p), blog) for p in flagged]
    return {
        "b": blog_view(blog),
        "score": _score(blog),
        "posts": [post_view(post_json(p), blog) for p in posts],
        "canonical": origin + urls.blog_path(blog.slug),
        "max_posts": count,
        "compact": compact,
        "pinned": [p for p in flagged_views if p["pinned"]] if pinned else None,
        "key_events": [p for p in flagged_views if p["key_event"]] if key_events else None,
    }


async def feed(request: Request) -> Response:
    """Atom (RFC 4287): the newest posts; an edited post's entry carries its new <updated>."""
    blog, shared = await readable_blog(request)
    tag = tag_param(request)

    async def page() -> bytes:
        return await _feed(request, blog, tag)

    atom = "application/atom+xml; charset=utf-8"
    return await _cached(request, blog, ("feed", tag or ""), page, atom, shared=shared)


async def _feed(request: Request, blog: Blog, tag: str | None) -> bytes:
    state = services(request)
    posts, _ = await state.store.list_posts(blog, limit=50, tag=tag)
    settings = state.settings
    if settings.websub_hub and not tag:
        # The hub is pinged about this URL (outbound/websub.py); subscribers use `self`, so the
        # two must be the same address, whichever host this request came by.
        hub = (settings.websub_hub, websub.feed_url(settings, blog.slug))
        return feed_xml(state.templates, blog, posts, _origin(request), hub=hub)
    return feed_xml(state.templates, blog, posts, _origin(request), tag)


def feed_xml(
    templates: Environment,
    blog: Blog,
    posts: list[Post],
    origin: str,
    tag: str | None = None,
    *,
    archive: bool = False,
    hub: tuple[str, str] | None = None,
) -> bytes:
    """The Atom document of `posts` (newest first); `archive` renders their HTML as the static
    archive shows it (no links to the live site's tag filter); `hub`: the WebSub hub that is
    pinged on change and the feed's own URL as the hub is told it."""
    template = templates.get_template("_post.html")
    entries = []
    for post in posts:
        view = post_view(post_json(post), blog)
        # The entry shows the post as the page does (figures, byline, contributors).
        view["feed_html"] = template.render(p=view, archive=archive, feed=True).strip()
        entries.append(view)
    b = blog_view(blog)
    b["summary_text"] = render.plain_text(blog.summary) if blog.summary else ""
    b["author_names"] = [a.name for a in blog.authors]
    b["organisation"] = blog.organisation
    if tag:
        b["title"] = f"{blog.title}: {tag}"
    filtered = {"tag": tag} if tag else {}
    feed_url = origin + urls.feed_path(blog.slug) + (f"?{urlencode(filtered)}" if tag else "")
    xml = templates.get_template("feed.xml").render(
        b=b,
        posts=entries,
        origin=origin,
        blog_url=origin + urls.blog_path(blog.slug, **filtered),
        feed_url=hub[1] if hub else feed_url,
        hub_url=hub[0] if hub else None,
    )
    return str(xml).encode()


def _score(blog: Blog) -> dict[str, Any] | None:
    return score_view(blog.score.to_json() if blog.score else None)


def _origin(request: Request) -> str:
    """scheme://host of this request (behind a proxy, from its forwarded headers)."""
    return f"{request.url.scheme}://{request.url.netloc}"


def _first_words(posts: list[dict[str, Any]], blog: Blog) -> str:
    for post in posts:
        text = render.plain_text(post["body"])
        if text:
            return text
    return blog.title
