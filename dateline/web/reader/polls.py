"""Readers' votes in polls, and how a poll is shown.

`POST /{slug}/polls/{poll_id}/vote` takes `option` (the option's number, from 0) as a form field
(the page's form, which works without JavaScript: the answer is 303 back to the post) or as JSON
(`{"option": 1}`, or any request that sends `Accept: application/json`: the answer is
`{"poll": …, "voted": 1}`). No account: the browser gets a signed cookie holding a random voter id
(kept a year); the store keeps only a hash of it with the poll's id, and no address. How a poll
is shown: reader/views.py `poll_view` and templates/_poll.html.

Not abusable cross-site: a request whose Origin (or, without one, Sec-Fetch-Site) says another
site made it is refused, and the cookie is SameSite=Lax, so another site's page cannot make its
visitors' browsers vote. Each client address may vote `poll_votes_per_minute` times a minute
(counted per node)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dateline.errors import BadRequest, Forbidden
from dateline.newsroom import urls
from dateline.newsroom.shapes import poll_json
from dateline.web.reader.access import readable_blog
from dateline.web.responses import JSONResponse, read_json
from dateline.web.security import same_secret
from dateline.web.services import services

VOTER_COOKIE = "dateline_voter"
VOTER_LIFETIME = 366 * 24 * 3600
_POST_ID = re.compile(r"^[a-z0-9]{1,32}$")


def _signature(key: bytes, voter: str) -> str:
    # "voter:" keeps a voter cookie from ever passing for a session cookie, and back.
    return hmac.new(key, f"voter:{voter}".encode(), hashlib.sha256).hexdigest()


def _voter(request: Request) -> tuple[str, bool]:
    """The browser's voter id from its signed cookie, or a new one (and whether it is new)."""
    key = services(request).signing_key
    raw = request.cookies.get(VOTER_COOKIE, "")
    voter, _, signature = raw.rpartition(".")
    if voter and len(raw) < 200 and same_secret(signature, _signature(key, voter)):
        return voter, False
    return secrets.token_urlsafe(16), True


def _same_site(request: Request) -> None:
    """Refuse a vote another site's page made the reader's browser send."""
    origin = request.headers.get("origin")
    if origin is not None:
        if urlsplit(origin).netloc != request.headers.get("host", ""):
            raise Forbidden("votes are taken only from this site's own pages")
        return
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise Forbidden("votes are taken only from this site's own pages")


def _wants_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type == "application/json" or "application/json" in request.headers.get(
        "accept", ""
    )


async def _sent(request: Request) -> tuple[int, str | None]:
    """(the option voted for, the post to go back to) from the form or the JSON."""
    limit = services(request).settings.max_request_bytes
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        data: dict[str, Any] = await read_json(request, limit)
        option, post = data.get("option"), data.get("post")
    else:
        form = await request.form(max_files=0, max_fields=4)
        raw = form.get("option")
        if not isinstance(raw, str) or not raw.isdigit():
            raise BadRequest("choose one of the options, then vote", field="option")
        option, post = int(raw), form.get("post")
    if not isinstance(option, int) or isinstance(option, bool):
        raise BadRequest("option must be the number of an option, from 0", field="option")
    back = post if isinstance(post, str) and _POST_ID.match(post) else None
    return option, back


async def vote(request: Request) -> Response:
    state = services(request)
    blog, _ = await readable_blog(request)
    _same_site(request)
    address = request.client.host if request.client else "unknown"
    state.vote_limit.take(address)
    option, back = await _sent(request)
    voter, new = _voter(request)
    poll = await state.newsroom.vote(blog.slug, request.path_params["poll_id"], voter, option)
    response: Response
    if _wants_json(request):
        response = JSONResponse({"poll": poll_json(blog.slug, poll), "voted": option})
    else:
        page = urls.post_path(blog.slug, back) if back else urls.blog_path(blog.slug)
        response = RedirectResponse(f"{page}#poll-{poll.id}", status_code=303)
    response.headers["Cache-Control"] = "no-store"
    if new:
        response.set_cookie(
            VOTER_COOKIE,
            f"{voter}.{_signature(state.signing_key, voter)}",
            max_age=VOTER_LIFETIME,
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response
