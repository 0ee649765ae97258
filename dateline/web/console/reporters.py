"""The console's Reporter inputs page: make a one-time pairing code for Telegram, Slack or email,
see and revoke your pairings, and (editors) choose what an editor's message does in each blog and
see the chat channels linked to it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from dateline.errors import BadRequest
from dateline.newsroom.reporters import CODE_LIFETIME, PLATFORMS
from dateline.web.auth import Session, current_session
from dateline.web.console.base import page, read_form, signed_in, text, to_login
from dateline.web.services import services


async def _show(request: Request, session: Session, **context: Any) -> Response:
    found = services(request)
    newsroom, settings = found.newsroom, found.settings
    enabled = {
        "telegram": bool(settings.telegram_bot_token),
        "slack": bool(settings.slack_bot_token),
        "email": bool(settings.smtp_port),
    }
    context.setdefault("new_code", None)
    return page(
        request,
        "inputs.html",
        session,
        platforms=PLATFORMS,
        enabled=enabled,
        pairings=await newsroom.pairings(session.user),
        blogs=await newsroom.input_settings(session.user),
        smtp_domain=settings.smtp_domain,
        minutes=int(CODE_LIFETIME.total_seconds() // 60),
        **context,
    )


async def inputs_page(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return to_login(request)
    return await _show(request, session)


async def create_code(request: Request) -> Response:
    session = await signed_in(request)
    form = await read_form(request, session)
    platform = text(form, "platform")
    code = await services(request).newsroom.pairing_code(session.user, platform)
    # Shown this once: only its hash is kept.
    response = await _show(request, session, new_code=code, code_platform=platform)
    response.status_code = 201
    return response


async def revoke_pairing(request: Request) -> Response:
    session = await signed_in(request)
    await read_form(request, session)
    raw = request.path_params["pairing_id"]
    if not raw.isdigit():
        raise BadRequest("that is not a pairing's id")
    await services(request).newsroom.revoke_pairing(session.user, int(raw))
    return RedirectResponse("/newsroom/inputs", status_code=303)


async def blog_inputs(request: Request) -> Response:
    session = await signed_in(request)
    form = await read_form(request, session)
    await services(request).newsroom.set_editor_posts(
        session.user, request.path_params["slug"], text(form, "editor_posts")
    )
    return RedirectResponse("/newsroom/inputs", status_code=303)


routes = [
    Route("/newsroom/inputs", inputs_page, methods=["GET"]),
    Route("/newsroom/inputs/codes", create_code, methods=["POST"]),
    Route("/newsroom/inputs/pairings/{pairing_id}/revoke", revoke_pairing, methods=["POST"]),
    Route("/newsroom/inputs/blogs/{slug}", blog_inputs, methods=["POST"]),
]
