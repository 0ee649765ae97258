"""The console's account pages: your API tokens, and (admins only) users and blog memberships."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from dateline import accounts, inputs
from dateline.errors import BadRequest, Forbidden, NotFound
from dateline.model import Role, User
from dateline.web.auth import current_session
from dateline.web.console_base import page, read_form, signed_in, text, to_login


async def _admin(request: Request) -> tuple[User, FormData]:

    session = await signed_in(request)
    form = await read_form(request, session)
    if not session.user.is_admin:
        raise Forbidden("only admins manage users and memberships")
    return session.user, form


async def tokens_page(request: Request) -> Response:

    session = await current_session(request)
    if session is None:
        return to_login(request)
    assert session.user.id is not None
    tokens = await request.app.state.store.list_tokens(session.user.id)
    return page(request, "tokens.html", session, tokens=tokens, new_token=None)


async def create_token(request: Request) -> Response:

    session = await signed_in(request)
    form = await read_form(request, session)
    label = inputs.parse(inputs.TokenCreate, {"label": text(form, "label")}).label
    store = request.app.state.store
    token = await accounts.issue_token(store, session.user, label)
    assert session.user.id is not None
    tokens = await store.list_tokens(session.user.id)
    # Shown this once: only its hash is kept.
    response = page(request, "tokens.html", session, tokens=tokens, new_token=token)
    response.status_code = 201
    return response


async def revoke_token(request: Request) -> Response:

    session = await signed_in(request)
    await read_form(request, session)
    assert session.user.id is not None
    token_id = _int(request.path_params["token_id"])
    if not await request.app.state.store.revoke_token(session.user.id, token_id):
        raise NotFound("you have no live token with that id")
    return RedirectResponse("/newsroom/tokens", status_code=303)


async def users_page(request: Request) -> Response:

    session = await current_session(request)
    if session is None:
        return to_login(request)
    if not session.user.is_admin:
        raise Forbidden("only admins manage users")
    users = await request.app.state.store.list_users()
    return page(request, "users.html", session, users=users, roles=[r.value for r in Role])


async def create_user(request: Request) -> Response:

    _, form = await _admin(request)
    password = text(form, "password")
    await accounts.create_user(
        request.app.state.store,
        email=text(form, "email"),
        name=text(form, "name"),
        role=text(form, "role"),
        password=password or None,
    )
    return RedirectResponse("/newsroom/users", status_code=303)


async def set_role(request: Request) -> Response:

    admin, form = await _admin(request)
    user_id = _int(request.path_params["user_id"])
    try:
        role = Role(text(form, "role"))
    except ValueError:
        raise BadRequest("role must be admin, editor or contributor", field="role") from None
    if user_id == admin.id and role is not Role.ADMIN:
        raise BadRequest("you cannot take away your own admin role; ask another admin")
    store = request.app.state.store
    if await store.get_user(user_id) is None:
        raise NotFound("there is no such user")
    await store.set_role(user_id, role)
    return RedirectResponse("/newsroom/users", status_code=303)


async def add_member(request: Request) -> Response:

    _, form = await _admin(request)
    store = request.app.state.store
    blog = await store.get_blog(request.path_params["slug"])
    email = text(form, "email").strip().lower()
    user = await store.get_user_by_email(email)
    if user is None:
        raise NotFound(f"there is no user {email!r}; create them on the Users page first")
    await store.add_membership(user.id, blog.id)
    return RedirectResponse(f"/newsroom/blogs/{blog.slug}#members", status_code=303)


async def remove_member(request: Request) -> Response:
    _, _form = await _admin(request)
    store = request.app.state.store
    blog = await store.get_blog(request.path_params["slug"])
    await store.remove_membership(_int(request.path_params["user_id"]), blog.id)
    return RedirectResponse(f"/newsroom/blogs/{blog.slug}#members", status_code=303)


def _int(value: str) -> int:
    if not value.isdigit() or len(value) > 12:
        raise NotFound(f"{value!r} is not an id")
    return int(value)


routes = [
    Route("/newsroom/tokens", tokens_page, methods=["GET"]),
    Route("/newsroom/tokens", create_token, methods=["POST"]),
    Route("/newsroom/tokens/{token_id}/revoke", revoke_token, methods=["POST"]),
    Route("/newsroom/users", users_page, methods=["GET"]),
    Route("/newsroom/users", create_user, methods=["POST"]),
    Route("/newsroom/users/{user_id}/role", set_role, methods=["POST"]),
    Route("/newsroom/blogs/{slug}/members", add_member, methods=["POST"]),
    Route("/newsroom/blogs/{slug}/members/{user_id}/remove", remove_member, methods=["POST"]),
]
