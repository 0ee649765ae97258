"""The JSON API, version 1 (see docs/api.md and /api/v1/openapi.json)."""

from __future__ import annotations

import hashlib
import re

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dateline.errors import BadRequest, Invalid, PreconditionFailed, Unavailable
from dateline.model import Post
from dateline.newsroom.cases import parse
from dateline.newsroom.inputs import PostPatch
from dateline.newsroom.shapes import (
    blog_json,
    decode_cursor,
    encode_cursor,
    post_json,
)
from dateline.web.auth import optional_user, require_user
from dateline.web.cache import cached
from dateline.web.reader.access import readable_blog
from dateline.web.reader.views import embed_snippet, tag_param
from dateline.web.responses import JSONResponse, read_json
from dateline.web.services import services

JSON = "application/json"


def _limit(request: Request, default: int) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest("limit must be a whole number from 1 to 100", field="limit") from None
    if not 1 <= value <= 100:
        raise BadRequest("limit must be a whole number from 1 to 100", field="limit")
    return value


async def get_blog(request: Request) -> Response:
    blog, shared = await readable_blog(request)
    origin = f"{request.url.scheme}://{request.url.netloc}"

    async def body() -> bytes:
        # The copy-paste snippet for other sites (docs/embedding.md), with this server's address.
        return orjson.dumps({**blog_json(blog), "embed_html": embed_snippet(origin, blog.slug)})

    return await cached(request, blog, ("api-blog",), body, JSON, shared=shared)


async def list_posts(request: Request) -> Response:
    state = services(request)
    blog, shared = await readable_blog(request)
    sort = request.query_params.get("sort", "newest")
    if sort not in ("newest", "oldest"):
        raise BadRequest(f"sort {sort!r} is unknown; use newest or oldest", field="sort")
    limit = _limit(request, state.settings.page_size)
    cursor = request.query_params.get("cursor") or None
    after = decode_cursor(cursor)  # refuse a bad cursor before anything is cached
    tag = tag_param(request)

    async def body() -> bytes:
        posts, following = await state.store.list_posts(
            blog, newest_first=sort == "newest", limit=limit, after=after, tag=tag
        )
        return orjson.dumps(
            {"posts": [post_json(p) for p in posts], "next_cursor": encode_cursor(following)}
        )

    key = ("api-posts", sort, str(limit), cursor or "", tag or "")
    return await cached(request, blog, key, body, JSON, shared=shared)


async def get_post(request: Request) -> Response:
    """One post. Its ETag names the post's revision (`"ID.rN.DIGEST"`, strong: a pin changes
    the digest, not N); an edit sends it back as If-Match (see patch_post)."""
    state = services(request)
    slug, post_id = request.path_params["slug"], request.path_params["post_id"]
    blog, shared = await readable_blog(request)
    found: list[Post] = []

    async def body() -> bytes:
        post = await state.store.get_post(blog, post_id)
        if not post.visible:
            raise _Unpublished
        found.append(post)
        return orjson.dumps(post_json(post))

    def tag() -> str:
        return _revision_tag(found[-1])

    try:
        return await cached(
            request, blog, ("api-post", post_id), body, JSON, shared=shared, tag=tag
        )
    except _Unpublished:
        # Unpublished posts are the newsroom's business: the newsroom says who may see them.
        post = await state.newsroom.read_post(await optional_user(request), slug, post_id)
        data = orjson.dumps(post_json(post))
        digest = hashlib.sha256(data).hexdigest()[:20]
        headers = {"Cache-Control": "private, no-store", "ETag": f'"{_revision_tag(post)}{digest}"'}
        return Response(data, media_type=JSON, headers=headers)


def _revision_tag(post: Post) -> str:
    return f"{post.id}.r{post.revision}."


_POST_ETAG = re.compile(r'"(?P<id>[^"]+)\.r(?P<revision>[0-9]{1,9})\.[0-9a-f]+"')


def _if_match(request: Request, post_id: str) -> int | None:
    """The revision an If-Match names (None without one, or for `*`). Anything but one of
    this post's ETags (another post's, a weak tag, a list naming two revisions) names no
    version of it: 412. A stale one is the newsroom's to judge (409 with the current version)."""
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None  # `*`: any current version (RFC 9110), so no revision is named
    revisions: set[int] = set()
    for raw in header.split(","):
        found = _POST_ETAG.fullmatch(raw.strip())
        if found is None or found["id"] != post_id:
            revisions.clear()
            break
        revisions.add(int(found["revision"]))
    if len(revisions) != 1:
        raise PreconditionFailed(
            f"If-Match must be the ETag that GET {request.url.path} answered (one, as sent); "
            f"{header[:100]!r} is not one of this post's. Or send the post's revision as "
            "base_revision"
        )
    return revisions.pop()


class _Unpublished(Exception):
    """The post exists but is not published: not an answer for the shared cache."""


async def create_blog(request: Request) -> Response:
    user = await require_user(request)
    data = await read_json(request, _max(request))
    blog = await services(request).newsroom.create_blog(user, data)
    return JSONResponse(blog_json(blog), status_code=201)


async def patch_blog(request: Request) -> Response:
    user = await require_user(request)
    data = await read_json(request, _max(request))
    blog = await services(request).newsroom.update_blog(user, request.path_params["slug"], data)
    return JSONResponse(blog_json(blog))


async def change_score(request: Request) -> Response:
    """One click on the score box (`{"side": 0, "by": 1}`, `{"status": "…"}`): the blog."""
    user = await require_user(request)
    data = await read_json(request, _max(request))
    blog = await services(request).newsroom.change_score(user, request.path_params["slug"], data)
    return JSONResponse(blog_json(blog))


async def create_post(request: Request) -> Response:
    user = await require_user(request)
    data = await read_json(request, _max(request))
    post = await services(request).newsroom.write_post(user, request.path_params["slug"], data)
    return JSONResponse(post_json(post), status_code=201)


async def patch_post(request: Request) -> Response:
    """An edit. The revision it started from comes as If-Match (the ETag of GET) or as
    base_revision; both at once must agree. A stale one: 409, as the newsroom says."""
    user = await require_user(request)
    data = await read_json(request, _max(request))
    slug, post_id = request.path_params["slug"], request.path_params["post_id"]
    try:
        matched = _if_match(request, post_id)
    except PreconditionFailed:
        # A precondition counts only for a request that would otherwise be carried out: a
        # malformed edit is a 422, an unknown post a 404, as without the header.
        parse(PostPatch, data)
        await services(request).newsroom.read_post(user, slug, post_id)
        raise
    if matched is not None:
        sent = data.get("base_revision")
        if sent is not None and sent != matched:
            raise Invalid(
                f"base_revision {sent!r} and If-Match (revision {matched}) disagree; send the "
                "revision the edit started from once",
                field="base_revision",
            )
        data = {**data, "base_revision": matched}
    any_revision = request.headers.get("if-match", "").strip() == "*"
    post = await services(request).newsroom.edit_post(
        user, slug, post_id, data, any_revision=any_revision
    )
    return JSONResponse(post_json(post))


async def delete_post(request: Request) -> Response:
    user = await require_user(request)
    data = await read_json(request, _max(request), optional=True)
    post = await services(request).newsroom.delete_post(
        user, request.path_params["slug"], request.path_params["post_id"], data
    )
    return JSONResponse(post_json(post))


async def list_revisions(request: Request) -> Response:
    """A post's history, oldest first; members of the blog only."""
    user = await require_user(request)
    revisions = await services(request).newsroom.revisions(
        user, request.path_params["slug"], request.path_params["post_id"]
    )
    return JSONResponse(
        {"revisions": [r.to_json() for r in revisions]},
        headers={"Cache-Control": "private, no-store"},
    )


async def healthz(request: Request) -> Response:
    """200 while this node can serve and write; 503 (with Retry-After) while its database is
    away. A bus that is down is reported but not fatal: hubs poll the event log meanwhile."""
    found = services(request)
    checks = {
        "database": "ok",
        "bus": "ok" if found.bus.healthy else "unreachable (live events come by polling)",
    }
    try:
        await found.store.ping()
    except Unavailable as exc:
        checks["database"] = "unavailable"
        raise Unavailable(
            f"this node cannot reach its database; {exc.message}", retry_after=exc.retry_after
        ).with_extra(checks=checks) from None
    headers = {"Cache-Control": "no-store"}
    body = {"status": "ok", "database": found.store.dialect, "checks": checks}
    return JSONResponse(body, headers=headers)


def _max(request: Request) -> int:
    return services(request).settings.max_request_bytes
