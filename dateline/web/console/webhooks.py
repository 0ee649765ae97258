"""The console's webhooks page of a blog: register a URL (its secret is shown once), see each
one's state and delivery log, pause, resume, delete. Plain forms with the CSRF token; every
write goes through the newsroom, which lets the blog's editors and admins only."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from dateline import render
from dateline.errors import BadRequest, Conflict, Invalid
from dateline.model import Blog, Delivery, Webhook
from dateline.newsroom.webhooks import webhook_json
from dateline.web.auth import current_session
from dateline.web.console.base import page, read_form, signed_in, text, to_login
from dateline.web.services import services

SHOWN = 20  # attempts listed per webhook on the page (the API gives the whole log)


async def webhooks_page(request: Request, **extra: Any) -> Response:
    session = await current_session(request)
    if session is None:
        return to_login(request)
    newsroom = services(request).newsroom
    blog, hooks = await newsroom.webhooks(session.user, request.path_params["slug"])
    views = []
    for hook in hooks:
        assert hook.id is not None
        _, _, log = await newsroom.webhook(session.user, blog.slug, hook.id)
        views.append(_view(hook, blog, log[:SHOWN]))
    return page(request, "webhooks.html", session, blog=blog, hooks=views, **extra)


def _view(hook: Webhook, blog: Blog, log: list[Delivery]) -> dict[str, Any]:
    def when(moment: Any) -> str:
        return render.ap_datetime(moment, blog.timezone) if moment else ""

    return {
        **webhook_json(hook, blog),
        "next_attempt_ap": when(hook.next_attempt_at),
        "failing_since_ap": when(hook.failing_since),
        "log": [
            {"seq": d.seq, "at_ap": when(d.at), "at": render.rfc3339(d.at), "status": d.status,
             "ok": d.ok, "duration_ms": d.duration_ms, "error": d.error}
            for d in log
        ],
    }  # fmt: skip


async def add_webhook(request: Request) -> Response:
    session = await signed_in(request)
    form = await read_form(request, session)
    url = text(form, "url")
    try:
        _, hook, secret = await services(request).newsroom.add_webhook(
            session.user, request.path_params["slug"], {"url": url}
        )
    except (Invalid, Conflict, BadRequest) as exc:
        response = await webhooks_page(request, error=exc.message, typed_url=url)
        response.status_code = exc.status
        return response
    response = await webhooks_page(request, new_secret=secret, new_id=hook.id)
    response.status_code = 201
    return response


async def change_webhook(request: Request) -> Response:
    session = await signed_in(request)
    form = await read_form(request, session)
    slug = request.path_params["slug"]
    raw = request.path_params["webhook_id"]
    webhook_id = int(raw) if raw.isdigit() and len(raw) <= 18 else 0
    newsroom = services(request).newsroom
    action = text(form, "action")
    if action == "delete":
        await newsroom.delete_webhook(session.user, slug, webhook_id)
    elif action in ("pause", "resume"):
        state = "paused" if action == "pause" else "active"
        await newsroom.change_webhook(session.user, slug, webhook_id, {"state": state})
    else:
        raise BadRequest("action must be pause, resume or delete", field="action")
    return RedirectResponse(f"/newsroom/blogs/{slug}/webhooks?done={action}", status_code=303)


routes = [
    Route("/newsroom/blogs/{slug}/webhooks", webhooks_page, methods=["GET"]),
    Route("/newsroom/blogs/{slug}/webhooks", add_webhook, methods=["POST"]),
    Route("/newsroom/blogs/{slug}/webhooks/{webhook_id}", change_webhook, methods=["POST"]),
]
