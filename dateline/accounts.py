"""People who write: passwords (argon2), API tokens (random, stored as sha256), memberships."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dateline.errors import Invalid
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
