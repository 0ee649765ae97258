"""The store's people: users, API tokens, blog memberships, console sessions, sign-in failures and
the instance's shared secrets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from dateline.errors import Conflict
from dateline.model import Role, User
from dateline.store import schema as t
from dateline.store.rows import RowCodec, Rows, new_id, utcnow

USERS = RowCodec(User, t.users)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token as the console lists it: never the token itself, which is not stored."""

    id: int
    label: str
    created_at: datetime
    revoked_at: datetime | None


class PeopleRows(Rows):
    # -- users -----------------------------------------------------------------------------

    async def create_user(self, user: User) -> User:
        user.created_at = user.created_at or utcnow()
        async with self.engines.writing() as conn:
            try:
                result = await conn.execute(
                    t.users.insert().values(**USERS.values(user, without=("id",)))
                )
            except IntegrityError as exc:
                raise Conflict(
                    f"a user with email {user.email!r} already exists", field="email"
                ) from exc
            user.id = new_id(result)
        return user

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        async with self.engines.writing() as conn:
            await conn.execute(
                t.users.update().where(t.users.c.id == user_id).values(password_hash=password_hash)
            )
            # A new password ends every sign-in made with the old one.
            await conn.execute(t.sessions.delete().where(t.sessions.c.user_id == user_id))

    async def set_active(self, user_id: int, active: bool) -> bool:
        """Deactivate or reactivate a user; False if nothing changed. Deactivating ends every
        session and revokes every API token and reporter pairing for good: reactivating gives
        the account back, not the keys it had (they may have left with the person)."""
        c = t.users.c
        now = utcnow()
        async with self.engines.writing() as conn:
            change = t.users.update().where(c.id == user_id)
            if active:
                change = change.where(c.deactivated_at.is_not(None)).values(deactivated_at=None)
            else:
                change = change.where(c.deactivated_at.is_(None)).values(deactivated_at=now)
            result = await conn.execute(change)
            if not active:
                await conn.execute(t.sessions.delete().where(t.sessions.c.user_id == user_id))
                for keys in (t.api_tokens, t.intake_pairings):
                    await conn.execute(
                        keys.update()
                        .where(keys.c.user_id == user_id, keys.c.revoked_at.is_(None))
                        .values(revoked_at=now)
                    )
        return bool(result.rowcount)

    async def set_role(self, user_id: int, role: Role) -> None:
        async with self.engines.writing() as conn:
            await conn.execute(
                t.users.update().where(t.users.c.id == user_id).values(role=role.value)
            )

    async def get_user_by_email(self, email: str) -> User | None:
        async with self.engines.reading() as conn:
            row = (await conn.execute(t.users.select().where(t.users.c.email == email))).first()
        return USERS.read(row._mapping) if row is not None else None

    async def get_user(self, user_id: int) -> User | None:
        async with self.engines.reading() as conn:
            row = (await conn.execute(t.users.select().where(t.users.c.id == user_id))).first()
        return USERS.read(row._mapping) if row is not None else None

    async def list_users(self) -> list[User]:
        async with self.engines.reading() as conn:
            rows = await conn.execute(t.users.select().order_by(t.users.c.name, t.users.c.id))
            return [USERS.read(r._mapping) for r in rows]

    # -- API tokens ------------------------------------------------------------------------

    async def add_token(self, user_id: int, token_hash: str, label: str = "") -> int:
        async with self.engines.writing() as conn:
            result = await conn.execute(
                t.api_tokens.insert().values(
                    user_id=user_id, token_hash=token_hash, label=label, created_at=utcnow()
                )
            )
            return new_id(result)

    async def list_tokens(self, user_id: int) -> list[TokenInfo]:
        c = t.api_tokens.c
        query = sa.select(c.id, c.label, c.created_at, c.revoked_at).where(c.user_id == user_id)
        async with self.engines.reading() as conn:
            rows = await conn.execute(query.order_by(c.created_at.desc(), c.id.desc()))
            return [TokenInfo(r.id, r.label, r.created_at, r.revoked_at) for r in rows]

    async def revoke_token(self, user_id: int, token_id: int) -> bool:
        """Revoke one of `user_id`'s tokens; False if it is not theirs or already revoked."""
        c = t.api_tokens.c
        async with self.engines.writing() as conn:
            result = await conn.execute(
                t.api_tokens.update()
                .where(c.id == token_id, c.user_id == user_id, c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        return bool(result.rowcount)

    async def user_for_token(self, token_hash: str) -> User | None:
        query = (
            sa.select(t.users)
            .join(t.api_tokens, t.api_tokens.c.user_id == t.users.c.id)
            .where(
                t.api_tokens.c.token_hash == token_hash,
                t.api_tokens.c.revoked_at.is_(None),
                t.users.c.deactivated_at.is_(None),
            )
        )
        async with self.engines.reading() as conn:
            row = (await conn.execute(query)).first()
        return USERS.read(row._mapping) if row is not None else None

    # -- memberships -----------------------------------------------------------------------

    async def add_membership(self, user_id: int, blog_id: int) -> None:
        async with self.engines.writing() as conn:
            exists = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(t.memberships)
                .where(t.memberships.c.user_id == user_id, t.memberships.c.blog_id == blog_id)
            )
            if not exists:
                await conn.execute(t.memberships.insert().values(user_id=user_id, blog_id=blog_id))

    async def remove_membership(self, user_id: int, blog_id: int) -> None:
        async with self.engines.writing() as conn:
            await conn.execute(
                t.memberships.delete().where(
                    t.memberships.c.user_id == user_id, t.memberships.c.blog_id == blog_id
                )
            )

    async def is_member(self, user_id: int, blog_id: int) -> bool:
        async with self.engines.reading() as conn:
            count = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(t.memberships)
                .where(t.memberships.c.user_id == user_id, t.memberships.c.blog_id == blog_id)
            )
        return bool(count)

    async def members(self, blog_id: int) -> list[User]:
        query = (
            sa.select(t.users)
            .join(t.memberships, t.memberships.c.user_id == t.users.c.id)
            .where(t.memberships.c.blog_id == blog_id)
            .order_by(t.users.c.name)
        )
        async with self.engines.reading() as conn:
            return [USERS.read(r._mapping) for r in await conn.execute(query)]

    async def member_blog_ids(self, user_id: int) -> set[int]:
        query = sa.select(t.memberships.c.blog_id).where(t.memberships.c.user_id == user_id)
        async with self.engines.reading() as conn:
            return {int(r[0]) for r in await conn.execute(query)}

    # -- console sessions ------------------------------------------------------------------

    async def create_session(
        self, id_hash: str, user_id: int, csrf_token: str, expires_at: datetime
    ) -> None:
        now = utcnow()
        async with self.engines.writing() as conn:
            # Expired sessions are swept as new ones are made: no separate clean-up job.
            await conn.execute(t.sessions.delete().where(t.sessions.c.expires_at < now))
            await conn.execute(
                t.sessions.insert().values(
                    id_hash=id_hash,
                    user_id=user_id,
                    csrf_token=csrf_token,
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    async def session_user(self, id_hash: str) -> tuple[User, str] | None:
        """The signed-in user and the session's CSRF token, if the session is live."""
        query = (
            sa.select(t.users, t.sessions.c.csrf_token)
            .join(t.sessions, t.sessions.c.user_id == t.users.c.id)
            .where(
                t.sessions.c.id_hash == id_hash,
                t.sessions.c.expires_at > utcnow(),
                t.users.c.deactivated_at.is_(None),
            )
        )
        async with self.engines.reading() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return USERS.read(row._mapping), str(row.csrf_token)

    async def delete_session(self, id_hash: str) -> None:
        async with self.engines.writing() as conn:
            await conn.execute(t.sessions.delete().where(t.sessions.c.id_hash == id_hash))

    # -- sign-in throttling ----------------------------------------------------------------

    async def record_login_failure(self, keys: list[str]) -> list[int]:
        """Count a sign-in attempt against each key (committed at once); the rows' ids."""
        now = utcnow()
        ids = []
        async with self.engines.writing() as conn:
            for key in keys:
                result = await conn.execute(t.login_failures.insert().values(key=key, at=now))
                ids.append(new_id(result))
        return ids

    async def forget_login_attempt(self, ids: list[int]) -> None:
        async with self.engines.writing() as conn:
            await conn.execute(t.login_failures.delete().where(t.login_failures.c.id.in_(ids)))

    async def login_failures_since(self, key: str, since: datetime) -> list[datetime]:
        c = t.login_failures.c
        query = sa.select(c.at).where(c.key == key, c.at >= since).order_by(c.at)
        async with self.engines.reading() as conn:
            return [r[0] for r in await conn.execute(query)]

    async def clear_login_failures(self, key: str, *, older_than: datetime) -> None:
        """Forget `key`'s failures (a good sign-in), and everyone's older than `older_than`."""
        c = t.login_failures.c
        async with self.engines.writing() as conn:
            await conn.execute(
                t.login_failures.delete().where(sa.or_(c.key == key, c.at < older_than))
            )

    # -- who is editing what ---------------------------------------------------------------

    async def present(
        self,
        post_id: str,
        user_id: int,
        name: str,
        *,
        gone_after: timedelta,
        now: datetime | None = None,
    ) -> list[str]:
        """Note that `user_id` has `post_id` open `now`; the names of the others who have it
        open, forgetting those not seen for `gone_after`."""
        c = t.presence.c
        now = now or utcnow()
        async with self.engines.writing() as conn:
            await conn.execute(t.presence.delete().where(c.seen_at < now - gone_after))
            await conn.execute(
                t.presence.delete().where(c.post_id == post_id, c.user_id == user_id)
            )
            await conn.execute(
                t.presence.insert().values(post_id=post_id, user_id=user_id, name=name, seen_at=now)
            )
            rows = await conn.execute(
                sa.select(c.name)
                .where(c.post_id == post_id, c.user_id != user_id)
                .order_by(c.seen_at.desc())
            )
            return [str(r[0]) for r in rows]

    async def left(self, post_id: str, user_id: int) -> None:
        c = t.presence.c
        async with self.engines.writing() as conn:
            await conn.execute(
                t.presence.delete().where(c.post_id == post_id, c.user_id == user_id)
            )

    # -- the instance's shared values ------------------------------------------------------

    async def instance_value(self, name: str, make: Callable[[], str]) -> str:
        """The value stored under `name`, made by `make()` the first time; every process of the
        instance gets the same one (the first writer wins)."""
        query = sa.select(t.instance.c.value).where(t.instance.c.name == name)
        async with self.engines.reading() as conn:
            value = await conn.scalar(query)
        if value is not None:
            return str(value)
        try:
            async with self.engines.writing() as conn:
                await conn.execute(t.instance.insert().values(name=name, value=make()))
        except IntegrityError:
            pass  # another process made it first; use theirs
        async with self.engines.reading() as conn:
            value = await conn.scalar(query)
        assert value is not None
        return str(value)
