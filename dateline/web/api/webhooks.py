"""The JSON API's webhooks of a blog (docs/api.md, "Webhooks"): register, list, see one with its
delivery log, pause or resume, delete. Editors of the blog and admins; the newsroom decides."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from dateline.newsroom.webhooks import delivery_json, webhook_json
from dateline.web.auth import require_user
from dateline.web.responses import JSONResponse, read_json
from dateline.web.services import services

PRIVATE = {"Cache-Control": "private, no-store"}


def _webhook_id(request: Request) -> int:
    # No webhook has id 0: a malformed id is not found, after the permission check, like any.
    raw = request.path_params["webhook_id"]
    return int(raw) if raw.isdigit() and len(raw) <= 18 else 0


async def list_webhooks(request: Request) -> Response:
    user = await require_user(request)
    blog, found = await services(request).newsroom.webhooks(user, request.path_params["slug"])
    return JSONResponse({"webhooks": [webhook_json(w, blog) for w in found]}, headers=PRIVATE)


async def add_webhook(request: Request) -> Response:
    """201 with the webhook and its `secret`: the only answer that ever shows it."""
    user = await require_user(request)
    data = await read_json(request, services(request).settings.max_request_bytes)
    blog, webhook, secret = await services(request).newsroom.add_webhook(
        user, request.path_params["slug"], data
    )
    return JSONResponse(
        {**webhook_json(webhook, blog), "secret": secret}, status_code=201, headers=PRIVATE
    )


async def get_webhook(request: Request) -> Response:
    user = await require_user(request)
    blog, webhook, log = await services(request).newsroom.webhook(
        user, request.path_params["slug"], _webhook_id(request)
    )
    body = {**webhook_json(webhook, blog), "deliveries": [delivery_json(d) for d in log]}
    return JSONResponse(body, headers=PRIVATE)


async def patch_webhook(request: Request) -> Response:
    """`{"state": "paused"}` or `{"state": "active"}` (resumes from where it stopped)."""
    user = await require_user(request)
    webhook_id = _webhook_id(request)
    data = await read_json(request, services(request).settings.max_request_bytes)
    blog, webhook = await services(request).newsroom.change_webhook(
        user, request.path_params["slug"], webhook_id, data
    )
    return JSONResponse(webhook_json(webhook, blog), headers=PRIVATE)


async def delete_webhook(request: Request) -> Response:
    user = await require_user(request)
    await services(request).newsroom.delete_webhook(
        user, request.path_params["slug"], _webhook_id(request)
    )
    return Response(status_code=204, headers=PRIVATE)
