"""Following a story: the reader page's "Follow this story" button and its service worker.

* `GET /api/v1/push/key` → `{"public_key": "<VAPID key, base64url>"}`: what the page hands to
  `pushManager.subscribe` as `applicationServerKey`.
* `POST /{slug}/followers` with the browser's PushSubscription JSON → 201 `{"following": true}`
  (200 when the browser was following already: its keys are renewed).
* `DELETE /{slug}/followers` with `{"endpoint": …}` (or the whole subscription) → 204; 404 if the
  browser was not following.
* `GET /sw.js`: the service worker (static/push-worker.js) that shows notifications and opens
  the post when one is clicked. The page registers it with the scope `/{slug}/followers/`, which
  no page lives under: one registration, and so one subscription, per blog, and it never sees
  the reader's requests.

Following takes no account and no cookie. Requests another site's page made are refused (Origin,
or Sec-Fetch-Site without one), and each address may follow or unfollow
`push_follows_per_minute` times a minute (per node)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from dateline.errors import Forbidden, NotFound
from dateline.outbound.push import WebPush
from dateline.web.reader.access import readable_blog
from dateline.web.responses import JSONResponse, read_json
from dateline.web.services import services

WORKER = Path(__file__).resolve().parents[1] / "static" / "push-worker.js"


def _push(request: Request) -> WebPush:
    push = services(request).push
    if push is None:
        raise NotFound("this site does not send notifications (web_push is off)")
    return push


def _same_site(request: Request) -> None:
    """Refuse a follow or unfollow that another site's page made the reader's browser send."""
    origin = request.headers.get("origin")
    if origin is not None:
        if urlsplit(origin).netloc != request.headers.get("host", ""):
            raise Forbidden("stories are followed only from this site's own pages")
        return
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise Forbidden("stories are followed only from this site's own pages")


async def _checked(request: Request) -> dict[str, object]:
    _same_site(request)
    state = services(request)
    address = request.client.host if request.client else "unknown"
    state.follow_limit.take(address)
    # A subscription is well under 2 KB; nothing bigger is read.
    return await read_json(request, min(state.settings.max_request_bytes, 4096))


async def push_key(request: Request) -> Response:
    push = _push(request)
    return JSONResponse(
        {"public_key": push.vapid.public_key},
        headers={"Cache-Control": "public, max-age=300"},
    )


async def follow(request: Request) -> Response:
    push = _push(request)
    blog, _ = await readable_blog(request)
    data = await _checked(request)
    new = await push.followers.follow(blog, data)
    return JSONResponse(
        {"following": True}, status_code=201 if new else 200, headers={"Cache-Control": "no-store"}
    )


async def unfollow(request: Request) -> Response:
    push = _push(request)
    blog, _ = await readable_blog(request)
    data = await _checked(request)
    await push.followers.unfollow(blog, data)
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


async def service_worker(request: Request) -> Response:
    _push(request)
    return FileResponse(
        WORKER,
        media_type="text/javascript",
        # Browsers check for a new worker on navigation; a cached old one would linger a day.
        headers={"Cache-Control": "no-cache"},
    )
