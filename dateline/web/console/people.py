"""The console's account pages: your API tokens, and (admins only) users and blog memberships."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from dateline.errors import BadRequest, Conflict, Invalid, NotFound
from dateline.model import Role
from dateline.newsroom.cases import parse
from dateline.newsroom.inputs import TokenCreate
from dateline.web.auth import current_session, set_session_cookie
from dateline.web.console.base import (
    field_errors,
    form_again,
    page,
    read_form,
    signed_in,
    text,
    to_login,
)
from dateline.web.services import services


async def tokens_page(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return to_login(request)
    tokens = await services(request).newsroom.tokens(session.user)
    return page(request, "tokens.html", session, tokens=tokens, new_token=None)


async def create_token(request: Request) -> Response:
    session = await signed_in(request)
    form = await read_form(request, session)
    newsroom = services(request).newsroom
    label = parse(TokenCreate, {"label": text(form, "label")}).label
    token = await newsroom.issue_token(session.user, label)
    tokens = await newsroom.tokens(session.user)
    # Shown this once: only its hash is kept.
    response = page(request, "tokens.html", session, tokens=tokens, new_token=token)
    response.status_code = 201
    return response


async def revoke_token(request: Request) -> Response:
    session = await signed_in(request)
    await read_form(request, session)
    await services(request).newsroom.revoke_token(
        session.user, _int(request.path_params["token_id"])
    )
    return RedirectResponse("/newsroom/tokens", status_code=303)


async def account_page(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return to_login(request)
    saved = request.query_params.get("saved") == "password"
    return page(request, "account.html", session, saved=saved, errors={})


async def change_password(request: Request) -> Response:
    session = await signed_in(request)
    form = await read_form(request, session)
    newsroom = services(request).newsroom
    try:
        await newsroom.change_own_password(
            session.user, text(form, "current_password"), text(form, "new_password")
        )
    except Invalid as exc:
        # The password rule speaks of "password": here that is the new one.
        errors = {"new_password" if k == "password" else k: v for k, v in field_errors(exc).items()}
        response = page(request, "account.html", session, saved=False, errors=errors)
        response.status_code = exc.status
        return response
    # Every session of the user ended with the old password; this browser gets a new one.
    session_id, _ = await newsroom.start_session(session.user)
    response = RedirectResponse("/newsroom/account?saved=password", status_code=303)
    set_session_cookie(request, response, session_id)
    return response


async def reset_password(request: Request) -> Response:
    session = await signed_in(request)
    form = await read_form(request, session)
    user_id = _int(request.path_params["user_id"])
    try:
        await services(request).newsroom.set_password(session.user, user_id, text(form, "password"))
    except Invalid as exc:
        # The users page again, the refusal by that user's password field (never the
        # password typed: it is not sent back).
        response = await users_page(request, reset_errors={user_id: exc.message})
        response.status_code = exc.status
        return response
    return RedirectResponse("/newsroom/users", status_code=303)


async def set_active(request: Request) -> Response:
    session = await signed_in(request)
    form = await read_form(request, session)
    user_id = _int(request.path_params["user_id"])
    active = text(form, "active") == "true"
    await services(request).newsroom.set_active(session.user, user_id, active)
    return RedirectResponse("/newsroom/users", status_code=303)


async def users_page(request: Request, **form: Any) -> Response:
    session = await current_session(request)
    if session is None:
        return to_login(request)
    users = await services(request).newsroom.list_users(session.user)
    return page(request, "users.html", session, users=users, roles=[r.value for r in Role], **form)


async def create_user(request: Request) -> Response:
    session = await signed_in(request)
    form = await read_form(request, session)
    try:
        await services(request).newsroom.create_user(
            session.user,
            email=text(form, "email"),
            name=text(form, "name"),
            role=text(form, "role"),
            password=text(form, "password") or None,
        )
    except (Invalid, Conflict, BadRequest) as exc:
        return await form_again(request, users_page, exc, form)
    return RedirectResponse("/newsroom/users", status_code=303)


async def set_role(request: Request) -> Response:
    session = await signed_in(request)
    form = await read_form(request, session)
    user_id = _int(request.path_params["user_id"])
    await services(request).newsroom.set_role(session.user, user_id, text(form, "role"))
    return RedirectResponse("/newsroom/users", status_code=303)


async def add_member(request: Request) -> Response:
    session = await signed_in(request)
    form = await read_form(request, session)
    slug = request.path_params["slug"]
    await services(request).newsroom.add_member(session.user, slug, text(form, "email"))
    return RedirectResponse(f"/newsroom/blogs/{slug}#members", status_code=303)


async def remove_member(request: Request) -> Response:
    session = await signed_in(request)
    await read_form(request, session)
    slug = request.path_params["slug"]
    user_id = _int(request.path_params["user_id"])
    await services(request).newsroom.remove_member(session.user, slug, user_id)
    return RedirectResponse(f"/newsroom/blogs/{slug}#members", status_code=303)


def _int(value: str) -> int:
    if not value.isdigit() or len(value) > 12:
        raise NotFound(f"{value!r} is not an id")
    return int(value)


routes = [
    Route("/newsroom/tokens", tokens_page, methods=["GET"]),
    Route("/newsroom/tokens", create_token, methods=["POST"]),
    Route("/newsroom/tokens/{token_id}/revoke", revoke_token, methods=["POST"]),
    Route("/newsroom/account", account_page, methods=["GET"]),
    Route("/newsroom/account/password", change_password, methods=["POST"]),
    Route("/newsroom/users/{user_id}/password", reset_password, methods=["POST"]),
    Route("/newsroom/users/{user_id}/active", set_active, methods=["POST"]),
    Route("/newsroom/users", users_page, methods=["GET"]),
    Route("/newsroom/users", create_user, methods=["POST"]),
    Route("/newsroom/users/{user_id}/role", set_role, methods=["POST"]),
    Route("/newsroom/blogs/{slug}/members", add_member, methods=["POST"]),
    Route("/newsroom/blogs/{slug}/members/{user_id}/remove", remove_member, methods=["POST"]),
]
