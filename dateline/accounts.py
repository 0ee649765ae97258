"""People who write: passwords (argon2), API tokens (random, stored as sha256), memberships."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dateline.errors import Invalid, TooManyRequests, Unauthorized
from dateline.model import Role, User
from dateline.store import Store

_hasher = PasswordHasher()
TOKEN_PREFIX = "dl_"


def hash_password(password: str) -> str:
    if len(password) < 10:
        raise Invalid("a password needs at least 10 characters", field="password")
    return str(_hasher.hash(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough; argon2 is for guessable passwords.
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(
    store: Store,
    *,
    email: str,
    name: str,
    role: str,
    password: str | None = None,
    blogs: tuple[str, ...] = (),
) -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise Invalid(f"{email!r} is not an email address", field="email")
    if not name.strip():
        raise Invalid("a user needs a name", field="name")
    try:
        user_role = Role(role)
    except ValueError:
        raise Invalid(
            f"role {role!r} is unknown; use admin, editor or contributor", field="role"
        ) from None
    memberships = [await store.get_blog(slug) for slug in blogs]  # unknown slug: nothing written
    user = User(
        email=email,
        name=name.strip(),
        role=user_role,
        password_hash=hash_password(password) if password else None,
    )
    user = await store.create_user(user)
    assert user.id is not None
    for blog in memberships:
        assert blog.id is not None
        await store.add_membership(user.id, blog.id)
    return user


async def issue_token(store: Store, user: User, label: str = "") -> str:
    """A new API token for `user`; only its hash is kept, so this is the one time it is seen."""
    assert user.id is not None
    token = new_token()
    await store.add_token(user.id, token_hash(token), label)
    return token


async def user_for_token(store: Store, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return await store.user_for_token(token_hash(token))


# -- console sign-in ---------------------------------------------------------------------------

# Five wrong passwords for one account in a quarter of an hour lock that account's sign-in for the
# rest of the quarter; fifty from one address lock the address (a slow guesser across accounts).
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 50
SESSION_LIFETIME = timedelta(days=7)
# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("an unusable password, only ever compared against")


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def _check_throttle(store: Store, key: str, limit: int, now: datetime) -> None:
    failures = await store.login_failures_since(key, now - THROTTLE_WINDOW)
    if len(failures) >= limit:
        wait = failures[-limit] + THROTTLE_WINDOW - now
        raise TooManyRequests(
            "too many failed sign-ins; wait "
            f"{max(1, round(wait.total_seconds() / 60))} min and try again, "
            "or ask an admin to reset your password",
            retry_after=max(1, int(wait.total_seconds())),
        )


async def sign_in(store: Store, email: str, password: str, address: str) -> User:
    """The user whose email and password these are; refuses (429) while throttled."""
    email = email.strip().lower()[:320]
    now = datetime.now(UTC)
    account_key, address_key = f"email:{email}", f"ip:{address}"
    await _check_throttle(store, account_key, MAX_FAILURES_PER_ACCOUNT, now)
    await _check_throttle(store, address_key, MAX_FAILURES_PER_ADDRESS, now)
    user = await store.get_user_by_email(email) if email else None
    if user is None:
        verify_password(_DUMMY_HASH, password)
    elif verify_password(user.password_hash, password):
        await store.clear_login_failures(account_key, older_than=now - THROTTLE_WINDOW)
        return user
    await store.record_login_failure([account_key, address_key])
    raise Unauthorized("the email or the password is wrong")


async def start_session(store: Store, user: User) -> tuple[str, str]:
    """A new console session: its id (for the cookie) and its CSRF token."""
    assert user.id is not None
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + SESSION_LIFETIME
    await store.create_session(session_hash(session_id), user.id, csrf, expires)
    return session_id, csrf
