"""People who write: accounts and roles, passwords (argon2), API tokens (random, stored as sha256),
blog memberships, console sessions and sign-in throttling."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dateline.errors import (
    BadRequest,
    Forbidden,
    Invalid,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from dateline.model import Role, User
from dateline.newsroom import permissions
from dateline.newsroom.cases import Cases
from dateline.newsroom.permissions import Action
from dateline.store import TokenInfo

_T = TypeVar("_T")
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


# -- console sign-in ---------------------------------------------------------------------------

# Five wrong passwords for one account in a quarter of an hour lock that account's sign-in for the
# rest of the quarter; fifty from one address lock the address (a slow guesser across accounts).
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 50
SESSION_LIFETIME = timedelta(days=7)
# An argon2 hash or check takes about 140 ms of CPU and 64 MiB, on up to four threads of its
# own: each runs in a thread, never on the event loop (where it would stop every reader's stream
# of the node for as long), and one at a time, so that the loop keeps a core (bench/signin.py:
# during a burst of guesses the node's p99 answer was 113-584 ms with two at once, 34-54 ms with
# one, 752 ms on the loop).
HASHING_AT_ONCE = 1


@functools.cache
def _dummy_hash() -> str:
    """What the password is checked against when the email is unknown, so that a wrong email
    takes as long as a wrong password; made on first use, not at import (where every start of
    the server and the command line would pay for it)."""
    return str(_hasher.hash("an unusable password, only ever compared against"))


def _check_unknown(password: str) -> bool:
    verify_password(_dummy_hash(), password)
    return False


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _role(role: str | Role) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise Invalid(
            f"role {role!r} is unknown; use admin, editor or contributor", field="role"
        ) from None


class AccountCases(Cases):
    """`actor` is who asks; None is the instance itself (the command line, which holds the
    database's own credentials), which may do anything."""

    _hashing: asyncio.Semaphore | None = None

    async def _hashed(self, fn: Callable[..., _T], *args: str | None) -> _T:
        """`fn(*args)` (a password's hash or check) in a thread, HASHING_AT_ONCE at a time."""
        if self._hashing is None:
            self._hashing = asyncio.Semaphore(HASHING_AT_ONCE)
        async with self._hashing:
            return await asyncio.to_thread(fn, *args)

    async def signing_key(self) -> str:
        """The key that signs sign-in cookies. Every process of the instance must sign alike:
        without a configured `secret_key`, the first process makes one and keeps it in the store
        for the others (and for restarts)."""
        return self.settings.secret_key or await self.store.instance_value(
            "secret_key", lambda: secrets.token_urlsafe(32)
        )

    def _admin(self, actor: User | None) -> None:
        if actor is not None:
            permissions.check(actor, Action.MANAGE_PEOPLE)

    async def create_user(
        self,
        actor: User | None,
        *,
        email: str,
        name: str,
        role: str | Role,
        password: str | None = None,
        blogs: tuple[str, ...] = (),
    ) -> User:
        self._admin(actor)
        email = email.strip().lower()
        if "@" not in email or len(email) > 320:
            raise Invalid(f"{email!r} is not an email address", field="email")
        if not name.strip():
            raise Invalid("a user needs a name", field="name")
        user_role = _role(role)
        # An unknown slug is refused before anything is written.
        memberships = [await self.store.get_blog(slug) for slug in blogs]
        user = User(
            email=email,
            name=name.strip(),
            role=user_role,
            password_hash=await self._hashed(hash_password, password) if password else None,
        )
        user = await self.store.create_user(user)
        assert user.id is not None
        for blog in memberships:
            assert blog.id is not None
            await self.store.add_membership(user.id, blog.id)
        return user

    async def set_role(self, actor: User | None, user_id: int, role: str | Role) -> None:
        self._admin(actor)
        new_role = _role(role)
        if actor is not None:
            refused = permissions.own_account_refusal(actor, user_id, role=new_role)
            if refused is not None:
                raise BadRequest(refused)
        if await self.store.get_user(user_id) is None:
            raise NotFound("there is no such user")
        await self.store.set_role(user_id, new_role)

    async def set_password(self, actor: User | None, user_id: int, password: str) -> None:
        """An admin's reset of someone's password (or the command line's); it ends every
        console session of that user."""
        self._admin(actor)
        if await self.store.get_user(user_id) is None:
            raise NotFound("there is no such user")
        await self.store.set_password_hash(user_id, await self._hashed(hash_password, password))

    async def change_own_password(self, user: User, current: str, new: str) -> None:
        """A user's own change, proven with the current password; it ends every session of
        theirs (the caller starts a new one for the browser in hand)."""
        assert user.id is not None
        found = await self.store.get_user(user.id)
        if found is None or not await self._hashed(verify_password, found.password_hash, current):
            raise Invalid("the current password is wrong", field="current_password")
        await self.store.set_password_hash(user.id, await self._hashed(hash_password, new))

    async def set_active(self, actor: User | None, user_id: int, active: bool) -> None:
        """Deactivate a user (their sessions end and their tokens and reporter pairings are
        revoked, at once and for good; their posts and history stay) or reactivate them."""
        self._admin(actor)
        if actor is not None:
            refused = permissions.own_account_refusal(actor, user_id, active=active)
            if refused is not None:
                raise BadRequest(refused)
        if await self.store.get_user(user_id) is None:
            raise NotFound("there is no such user")
        await self.store.set_active(user_id, active)

    async def list_users(self, actor: User | None) -> list[User]:
        self._admin(actor)
        return await self.store.list_users()

    async def user_by_email(self, actor: User | None, email: str) -> User | None:
        self._admin(actor)
        return await self.store.get_user_by_email(email.strip().lower())

    async def add_member(self, actor: User | None, slug: str, email: str) -> User:
        self._admin(actor)
        blog = await self.store.get_blog(slug)
        user = await self.store.get_user_by_email(email.strip().lower())
        if user is None:
            raise NotFound(f"there is no user {email!r}; create them on the Users page first")
        assert user.id is not None and blog.id is not None
        await self.store.add_membership(user.id, blog.id)
        return user

    async def remove_member(self, actor: User | None, slug: str, user_id: int) -> None:
        self._admin(actor)
        blog = await self.store.get_blog(slug)
        assert blog.id is not None
        await self.store.remove_membership(user_id, blog.id)

    async def members(self, slug: str) -> list[User]:
        blog = await self.store.get_blog(slug)
        assert blog.id is not None
        return await self.store.members(blog.id)

    # -- API tokens: each user makes and revokes their own -----------------------------------

    async def issue_token(self, user: User, label: str = "") -> str:
        """A new API token for `user`; only its hash is kept, so this is the one time it is seen."""
        assert user.id is not None
        token = new_token()
        await self.store.add_token(user.id, token_hash(token), label)
        return token

    async def tokens(self, user: User) -> list[TokenInfo]:
        assert user.id is not None
        return await self.store.list_tokens(user.id)

    async def revoke_token(self, user: User, token_id: int) -> None:
        assert user.id is not None
        if not await self.store.revoke_token(user.id, token_id):
            raise NotFound("you have no live token with that id")

    async def user_for_token(self, token: str) -> User | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        return await self.store.user_for_token(token_hash(token))

    # -- console sign-in -------------------------------------------------------------------

    async def _check_throttle(self, key: str, limit: int, now: datetime) -> None:
        """Refuse if `key` has more than `limit` attempts in the window, this one included."""
        failures = await self.store.login_failures_since(key, now - THROTTLE_WINDOW)
        if len(failures) > limit:
            wait = failures[-limit - 1] + THROTTLE_WINDOW - now
            raise TooManyRequests(
                "too many failed sign-ins; wait "
                f"{max(1, round(wait.total_seconds() / 60))} min and try again, "
                "or ask an admin to reset your password",
                retry_after=max(1, int(wait.total_seconds())),
            )

    async def sign_in(self, email: str, password: str, address: str) -> User:
        """The user whose email and password these are; refuses (429) while throttled.

        The attempt is counted as a failure *before* the password is checked (and committed, so
        concurrent attempts see it), then the count is read: of any number of guesses at once,
        only the first `MAX_FAILURES_PER_ACCOUNT` are checked. A right password takes its own
        attempt back and clears the account's count."""
        email = email.strip().lower()[:320]
        now = datetime.now(UTC)
        account_key, address_key = f"email:{email}", f"ip:{address}"
        attempt = await self.store.record_login_failure([account_key, address_key])
        try:
            await self._check_throttle(account_key, MAX_FAILURES_PER_ACCOUNT, now)
            await self._check_throttle(address_key, MAX_FAILURES_PER_ADDRESS, now)
        except TooManyRequests:
            await self.store.forget_login_attempt(attempt)  # refused unchecked: not a guess
            raise
        user = await self.store.get_user_by_email(email) if email else None
        if user is None:
            await self._hashed(_check_unknown, password)
        elif await self._hashed(verify_password, user.password_hash, password):
            if not user.active:
                await self.store.forget_login_attempt(attempt)
                raise Forbidden("this account is deactivated; ask an admin to reactivate it")
            await self.store.forget_login_attempt(attempt)
            await self.store.clear_login_failures(account_key, older_than=now - THROTTLE_WINDOW)
            return user
        raise Unauthorized("the email or the password is wrong")

    async def start_session(self, user: User) -> tuple[str, str]:
        """A new console session: its id (for the cookie) and its CSRF token."""
        assert user.id is not None
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + SESSION_LIFETIME
        await self.store.create_session(session_hash(session_id), user.id, csrf, expires)
        return session_id, csrf

    async def session_user(self, session_id: str) -> tuple[str, User, str] | None:
        """(the session's hash, its user, its CSRF token) if the session is live."""
        id_hash = session_hash(session_id)
        found = await self.store.session_user(id_hash)
        if found is None:
            return None
        return id_hash, found[0], found[1]

    async def end_session(self, id_hash: str) -> None:
        await self.store.delete_session(id_hash)
