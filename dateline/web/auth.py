"""Who is asking: API tokens in `Authorization: Bearer TOKEN`."""

from __future__ import annotations

from starlette.requests import Request

from dateline import accounts
from dateline.errors import Unauthorized
from dateline.model import User


async def require_user(request: Request) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthorized(
            "this needs an API token: send 'Authorization: Bearer TOKEN' "
            "(create one with `dateline user create EMAIL --name NAME --role editor --token`)"
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer TOKEN'")
    user = await accounts.user_for_token(request.app.state.store, token.strip())
    if user is None:
        raise Unauthorized("the API token is unknown or revoked")
    return user
