"""Reader pages, server-rendered: they work without JavaScript."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from dateline import urls
from dateline.errors import BadRequest, NotFound
from dateline.model import PostStatus
from dateline.payloads import post_json
from dateline.web.views import blog_view, post_view


def _render(request: Request, template: str, **context: object) -> HTMLResponse:
    html = request.app.state.templates.get_template(template).render(**context)
    return HTMLResponse(html)


async def index(request: Request) -> Response:
    blogs = await request.app.state.store.list_blogs()
    return _render(request, "index.html", blogs=[blog_view(b) for b in blogs])


async def blog_page(request: Request) -> Response:
    state = request.app.state
    blog = await state.store.get_blog(request.path_params["slug"])
    sort = request.query_params.get("sort", "newest")
    if sort not in ("newest", "oldest"):
        raise BadRequest(f"sort {sort!r} is unknown; use newest or oldest", field="sort")
    newest_first = sort == "newest"
    posts, next_cursor = await state.store.list_posts(
        blog,
        newest_first=newest_first,
        limit=state.settings.page_size,
        cursor=request.query_params.get("cursor") or None,
    )
    flagged = [post_view(post_json(p), blog) for p in await state.store.flagged_posts(blog)]
    query = {} if newest_first else {"sort": "oldest"}
    next_url = urls.blog_path(blog.slug, **query, cursor=next_cursor) if next_cursor else None
    return _render(
        request,
        "blog.html",
        b=blog_view(blog),
        posts=[post_view(post_json(p), blog) for p in posts],
        pinned=[p for p in flagged if p["pinned"]],
        key_events=[p for p in flagged if p["key_event"]],
        newest_first=newest_first,
        newest_url=urls.blog_path(blog.slug),
        oldest_url=urls.blog_path(blog.slug, sort="oldest"),
        next_url=next_url,
        # Live updates belong to the first page; later pages are history.
        live=not request.query_params.get("cursor"),
    )


async def post_page(request: Request) -> Response:
    state = request.app.state
    blog = await state.store.get_blog(request.path_params["slug"])
    post = await state.store.get_post(blog, request.path_params["post_id"])
    if post.status is not PostStatus.PUBLISHED:
        raise NotFound(f"there is no post {post.id!r} in blog {blog.slug!r}")
    return _render(request, "post.html", b=blog_view(blog), p=post_view(post_json(post), blog))
