"""Reporters in the field: what the inputs (dateline/intake/: Telegram, Slack, email) may do,
decided here like everything else.

A platform identity (a Telegram user, a Slack user of a team, an email address) acts as the
Dateline user it is paired with, and only while the pairing is live: a user makes a one-time code
in the console, sends it from the platform, and may revoke the pairing at any time. A message
becomes a post through `write_post`, with that user's permissions: a contributor's is submitted
for review; an editor's is published, or kept as a draft if the blog says so."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from dateline.errors import Invalid, NotFound
from dateline.model import Blog, Post, PostStatus, User
from dateline.newsroom import permissions
from dateline.newsroom.permissions import Action
from dateline.newsroom.posts import PostCases
from dateline.store import LinkedChannel, Pairing, Received

PLATFORMS = ("telegram", "slack", "email")
EDITOR_POSTS = ("publish", "draft")
CODE_LIFETIME = timedelta(minutes=15)
# No 0/O, 1/I/L: the code is read off a screen and typed on a phone.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def code_hash(code: str) -> str:
    # 8 characters of a 31-letter alphabet (~40 bits), spent once, live 15 minutes: a fast hash
    # keeps a stolen database from handing out working codes, which is all it has to do.
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def _platform(platform: str) -> str:
    if platform not in PLATFORMS:
        raise Invalid(
            f"platform {platform!r} is unknown; use {', '.join(PLATFORMS)}", field="platform"
        )
    return platform


class ReporterCases(PostCases):
    # -- pairing -------------------------------------------------------------------------------

    async def pairing_code(self, user: User, platform: str) -> str:
        """A one-time code that pairs the account it is sent from with `user`. Only its hash is
        kept, so this is the one time it is seen."""
        assert user.id is not None
        code = "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))
        expires = self.clock() + CODE_LIFETIME
        await self.store.add_pairing_code(code_hash(code), user.id, _platform(platform), expires)
        return code

    async def pair(self, platform: str, identity: str, label: str, code: str) -> User:
        """Pair `identity` with the user who made `code` (spending it)."""
        user_id = await self.store.redeem_code(
            code_hash(code), _platform(platform), identity, label
        )
        user = await self.store.get_user(user_id) if user_id is not None else None
        if user is None:
            raise Invalid(
                "that pairing code is unknown, already used or expired; make a new one in the "
                "console (Reporter inputs) and send it within 15 minutes",
                field="code",
            )
        return user

    async def reporter(self, platform: str, identity: str) -> tuple[Pairing, User] | None:
        """Who a platform identity is (None for a stranger, or a revoked pairing)."""
        pairing = await self.store.pairing_for(platform, identity)
        if pairing is None:
            return None
        user = await self.store.get_user(pairing.user_id)
        if user is None or not user.active:
            return None
        return pairing, user

    async def reporters_revision(self, user: User, blog: Blog, post_id: str) -> int:
        """The revision a reporter replying to a post's confirmation last saw: the latest they
        wrote themselves (edits made in the newsroom never reach their chat). 1, the post their
        message made, if none is theirs."""
        revisions = await self.store.list_revisions(blog, post_id)
        return max((r.number for r in revisions if r.user_id == user.id), default=1)

    async def pairings(self, user: User) -> list[Pairing]:
        assert user.id is not None
        return await self.store.list_pairings(user.id)

    async def revoke_pairing(self, user: User, pairing_id: int) -> None:
        """Effective at once: the next message from that identity is a stranger's."""
        assert user.id is not None
        if not await self.store.revoke_pairing(user.id, pairing_id):
            raise NotFound("you have no live pairing with that id")

    async def choose_blog(self, user: User, pairing: Pairing, slug: str) -> Blog:
        """The blog a reporter's next messages go to (they must be able to write in it)."""
        blog = await self.store.get_blog(slug)
        await self._ensure(user, Action.WRITE, blog)
        assert user.id is not None and blog.id is not None
        if not await self.store.set_pairing_blog(pairing.id, user.id, blog.id):
            raise NotFound("this pairing was revoked; pair again")
        return blog

    async def reporter_blog(self, pairing: Pairing) -> Blog | None:
        """The blog a reporter chose (None if none, or if it is gone)."""
        if pairing.blog_id is None:
            return None
        try:
            return await self.store.get_blog_by_id(pairing.blog_id)
        except NotFound:
            return None

    # -- blogs' settings for inputs ----------------------------------------------------------

    async def link_channel(self, user: User, platform: str, channel: str, slug: str) -> Blog:
        """Messages in `channel` become posts in blog `slug` (an editor's decision)."""
        blog = await self.store.get_blog(slug)
        await self._ensure(user, Action.CONNECT_INPUTS, blog)
        assert blog.id is not None
        await self.store.link_channel(_platform(platform), channel, blog.id, user.id)
        return blog

    async def unlink_channel(self, user: User, platform: str, channel: str) -> Blog:
        blog = await self.channel_blog(platform, channel)
        if blog is None:
            raise NotFound("this channel is not linked to a blog")
        await self._ensure(user, Action.CONNECT_INPUTS, blog)
        await self.store.unlink_channel(platform, channel)
        return blog

    async def channel_blog(self, platform: str, channel: str) -> Blog | None:
        blog_id = await self.store.channel_blog(platform, channel)
        return await self.store.get_blog_by_id(blog_id) if blog_id is not None else None

    async def linked_channels(self, user: User, slug: str) -> list[LinkedChannel]:
        blog = await self.store.get_blog(slug)
        await self._ensure(user, Action.OPEN_BLOG, blog)
        assert blog.id is not None
        return await self.store.linked_channels(blog.id)

    async def input_settings(self, user: User) -> list[tuple[Blog, str, list[LinkedChannel]]]:
        """For each blog whose inputs `user` may set: what editors' messages do, and the
        channels linked to it (the console's Reporter inputs page)."""
        found = []
        for blog in await self.store.list_blogs():
            member = await self.member(user, blog)
            if permissions.may(user, Action.CONNECT_INPUTS, blog=blog, member=member):
                assert blog.id is not None
                channels = await self.store.linked_channels(blog.id)
                found.append((blog, await self.editor_posts(blog), channels))
        return found

    async def editor_posts(self, blog: Blog) -> str:
        assert blog.id is not None
        return await self.store.editor_posts(blog.id)

    async def set_editor_posts(self, user: User, slug: str, mode: str) -> None:
        """What an editor's message does in the blog: "publish" or "draft"."""
        blog = await self.store.get_blog(slug)
        await self._ensure(user, Action.CONNECT_INPUTS, blog)
        if mode not in EDITOR_POSTS:
            raise Invalid(
                f"{mode!r} is not what a message can do; choose publish or draft",
                field="editor_posts",
            )
        assert blog.id is not None
        await self.store.set_editor_posts(blog.id, mode)

    # -- messages ------------------------------------------------------------------------------

    async def reported_status(self, user: User, blog: Blog) -> PostStatus:
        """What `user`'s message becomes in `blog`: contributors' go to review, editors' are
        published or kept as drafts as the blog says."""
        member = await self._ensure(user, Action.WRITE, blog)
        if not permissions.may(user, Action.PUBLISH, blog=blog, member=member):
            return PostStatus.SUBMITTED
        if await self.editor_posts(blog) == "draft":
            return PostStatus.DRAFT
        return PostStatus.PUBLISHED

    async def write_reported(
        self,
        user: User,
        blog: Blog,
        *,
        headline: str = "",
        body: str = "",
        media: list[dict[str, Any]] | None = None,
        origin: str | None = None,
    ) -> Post:
        """A message as a post, through `write_post` and its permission checks; `origin` names
        the message ("PLATFORM:ID"): it is posted once, whatever happens in between."""
        status = await self.reported_status(user, blog)
        data: dict[str, Any] = {"headline": headline, "body": body, "status": status.value}
        if media:
            data["media"] = media
        return await self.write_post(user, blog.slug, data, origin=origin)

    async def claim_message(
        self,
        platform: str,
        message_id: str,
        user: User,
        blog: Blog | None,
        auth: dict[str, Any] | None = None,
    ) -> Received | None:
        """None if this is the first delivery of the message (now claimed), else the record of
        the earlier one: a retried delivery makes no second post."""
        assert user.id is not None
        return await self.store.claim_message(
            platform,
            message_id[:300],
            user_id=user.id,
            blog_id=blog.id if blog is not None else None,
            auth=auth,
        )

    async def settle_message(
        self,
        platform: str,
        message_id: str,
        *,
        post: Post | None = None,
        note: str | None = None,
    ) -> None:
        await self.store.settle_message(
            platform,
            message_id[:300],
            status="done" if post is not None else "failed",
            post_id=post.id if post is not None else None,
            note=note,
        )

    async def release_message(self, platform: str, message_id: str) -> None:
        await self.store.release_message(platform, message_id[:300])

    async def confirmed(self, platform: str, message_id: str, reply_ref: str) -> None:
        """Remember the bot's confirmation of a message, so a reply to it edits the post."""
        await self.store.set_reply_ref(platform, message_id[:300], reply_ref)

    async def replied_to(self, platform: str, reply_ref: str) -> tuple[Blog, str] | None:
        """The blog and post whose confirmation `reply_ref` is."""
        found = await self.store.message_by_reply(platform, reply_ref)
        if found is None or found.blog_id is None or found.post_id is None:
            return None
        return await self.store.get_blog_by_id(found.blog_id), found.post_id

    async def received(self, platform: str, message_id: str) -> Received | None:
        return await self.store.received(platform, message_id[:300])
