"""Who is asking: an API token (`Authorization: Bearer TOKEN`) or the console's session cookie.

The cookie holds only a random session id and its HMAC (signed with the instance's secret key); the
store keeps the id's sha256, the user and a CSRF token. Writes authenticated by the cookie must
carry that CSRF token (header `X-CSRF-Token` or form field `csrf_token`): a browser sends cookies
with requests another site makes, but that site cannot read the token. Bearer tokens are never sent
by a browser on its own, so they need no CSRF token."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from dateline.errors import Forbidden, Unauthorized
from dateline.model import User
from dateline.newsroom import accounts
from dateline.web.security import same_secret
from dateline.web.services import services

SESSION_COOKIE = "dateline_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Session:
    id_hash: str
    user: User
    csrf_token: str


def _signature(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def _key(request: Request) -> bytes:
    return services(request).signing_key


def set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    value = f"{session_id}.{_signature(_key(request), session_id)}"
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def _session_id(request: Request) -> str | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw or len(raw) > 200:
        return None
    session_id, _, signature = raw.rpartition(".")
    if not session_id or not same_secret(signature, _signature(_key(request), session_id)):
        return None
    return session_id


async def current_session(request: Request) -> Session | None:
    """The console session this request's cookie names, if it is signed, known and not expired."""
    if "session" in request.scope.get("dateline", {}):
        found: Session | None = request.scope["dateline"]["session"]
        return found
    session_id = _session_id(request)
    session = None
    if session_id is not None:
        live = await services(request).newsroom.session_user(session_id)
        if live is not None:
            id_hash, user, csrf_token = live
            session = Session(id_hash, user, csrf_token)
    request.scope.setdefault("dateline", {})["session"] = session
    return session


def check_csrf(session: Session, sent: str | None) -> None:
    if not sent or not same_secret(sent, session.csrf_token):
        raise Forbidden(
            "the CSRF token is missing or wrong; reload the console page and try again "
            f"(API clients: send the {CSRF_HEADER} header, or use an API token)"
        )


async def require_user(request: Request) -> User:
    """The user behind an API token or, failing that, a console session (with CSRF on writes)."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer TOKEN'")
        user = await services(request).newsroom.user_for_token(token.strip())
        if user is None:
            raise Unauthorized("the API token is unknown or revoked")
        return user
    session = await current_session(request)
    if session is None:
        raise Unauthorized(
            "this needs an API token: send 'Authorization: Bearer TOKEN' "
            "(create one in the console at /newsroom/tokens, or with "
            "`dateline user create EMAIL --name NAME --role editor --token`)"
        )
    if request.method not in SAFE_METHODS:
        check_csrf(session, request.headers.get(CSRF_HEADER))
    return session.user


async def optional_user(request: Request) -> User | None:
    """The user if the request carries credentials (a bad token is still an error)."""
    if request.headers.get("authorization") or await current_session(request) is not None:
        return await require_user(request)
    return None
