"""Posts: writing, editing, pinning, flagging, reviewing, scheduling, publishing, deleting.

Each change is decided on the post as it is inside the write transaction (`Store.change_post`):
permissions that depend on the post, the transition from its current status, and what readers
are told. Of two racing requests the second sees what the first committed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from dateline.errors import Conflict, Invalid, NotFound, PreconditionRequired
from dateline.model import (
    Blog,
    BlogStatus,
    Byline,
    EventType,
    Media,
    Person,
    Post,
    PostStatus,
    Revision,
    User,
    content_fields,
)
from dateline.newsroom import permissions, polls, shapes
from dateline.newsroom.cases import parse
from dateline.newsroom.embeds import EmbedCases
from dateline.newsroom.inputs import BylineIn, MediaIn, PostCreate, PostDelete, PostPatch
from dateline.newsroom.permissions import Action
from dateline.store import PostChange

UPLOADS = "/media/"
# Someone with a post open renews their presence every 15 s; after a minute without, they left.
PRESENCE = timedelta(minutes=1)
_CONTENT = content_fields(Revision)
_GOING_OUT = (PostStatus.PUBLISHED, PostStatus.SCHEDULED)
# What an edit changes, as opposed to a pin, a flag or a status: it must name its revision.
_EDITS = frozenset(
    {"headline", "body", "byline", "contributors", "media", "restore_revision", "correction",
     "tags", "published_at"}
)  # fmt: skip


def _byline(data: BylineIn) -> Byline:
    return Byline(tuple(Person(p.name) for p in data.people), data.location or None)


def _media(items: list[MediaIn], uploads: dict[str, dict[str, Any]]) -> list[Media]:
    """Images as posts keep them. For this server's uploads (`/media/NAME`), the size, the
    srcset and an animation's poster come from the upload's record, never from the client."""
    found = []
    for m in items:
        upload = uploads.get(m.url or "")
        if upload is None:
            found.append(
                Media(m.alt, m.caption, m.credit, url=m.url, width=m.width, height=m.height)
            )
            continue
        poster = upload.get("poster") if upload.get("animated") else None
        found.append(
            Media(
                m.alt,
                m.caption,
                m.credit,
                url=m.url,
                width=upload["width"],
                height=upload["height"],
                srcset=_srcset(upload["variants"]),
                poster=UPLOADS + poster["variants"][-1]["name"] if poster else None,
                poster_srcset=_srcset(poster["variants"]) if poster else None,
            )
        )
    return found


def _srcset(variants: list[dict[str, Any]]) -> str:
    return ", ".join(f"{UPLOADS}{v['name']} {v['width']}w" for v in variants)


def _has_words(post: Post) -> bool:
    return bool(post.headline or post.body.strip() or post.media)


def _asked_for(data: Mapping[str, Any] | PostCreate | PostPatch, *, changing: bool) -> list[Action]:
    """The actions beyond writing that a request asks for, read from what was sent as it is
    (so that a caller who may not take them is told so before anything else). A change that
    names a flag at all asks to set it; a new post asks only by setting it."""
    if isinstance(data, PostCreate | PostPatch):
        raw: Mapping[str, Any] = data.model_dump(exclude_unset=True)
    else:
        raw = data
    asked = []
    if raw.get("status") in ("published", "scheduled") or raw.get("publish_at") is not None:
        asked.append(Action.PUBLISH)
    flags = [raw[name] for name in ("pinned", "key_event") if name in raw]
    if any(value not in (None, False) or changing for value in flags):
        asked.append(Action.FLAG)
    if "review_note" in raw:
        asked.append(Action.REVIEW)
    if "poll" in raw and (changing or raw["poll"] is not None):
        asked.append(Action.POLL)
    if raw.get("notify") is not None and (changing or raw["notify"]):
        asked.append(Action.NOTIFY)
    return asked


def _notify(post: Post, sent: bool | None, key_changed: bool, was_published: bool) -> None:
    """Whether followers are notified when the post goes out: as sent, else following the key
    event flag while the post is not out yet. Followers are told when a post goes out, once."""
    if was_published:
        if sent and not post.notify:
            raise Conflict(
                "this post is out already; followers are notified when a post is published, "
                "so write a new post to tell them",
                field="notify",
            )
        return
    if sent is not None:
        post.notify = sent
    elif key_changed:
        post.notify = post.key_event


def _still_covering(blog: Blog) -> None:
    """Nothing more goes out once coverage has ended (readers' streams have closed)."""
    if blog.status is BlogStatus.ENDED:
        raise Conflict(
            f"coverage of blog {blog.slug!r} has ended, so nothing more is published in it; "
            'reopen it first (PATCH the blog with {"status": "live"}, or in the console '
            'set Status to "live" in "Blog header and status" and save the header), or keep '
            "this post as a draft"
        )


class PostCases(EmbedCases):
    async def _uploads(self, items: list[MediaIn] | None) -> dict[str, dict[str, Any]]:
        """The upload records behind `items`' /media/ URLs; an unknown one is an error."""
        found: dict[str, dict[str, Any]] = {}
        for i, m in enumerate(items or []):
            if m.url and m.url.startswith(UPLOADS):
                name = m.url.removeprefix(UPLOADS)
                upload = await self.store.get_media(name.partition(".")[0])
                if upload is None or name not in {v["name"] for v in upload["variants"]}:
                    raise Invalid(
                        f"media.{i}.url: {m.url!r} is not an uploaded image; "
                        "upload it with POST /api/v1/media and use the url it answers",
                        field=f"media.{i}.url",
                    )
                found[m.url] = upload
        return found

    # -- reading what the newsroom may see ---------------------------------------------------

    async def read_post(self, user: User | None, slug: str, post_id: str) -> Post:
        """A post as `user` may see it: published posts for everyone; unpublished ones for the
        blog's members (a contributor: their own); deleted ones for nobody (404 otherwise)."""
        blog = await self.store.get_blog(slug)
        post = await self.store.get_post(blog, post_id)
        if permissions.on_readers_pages(post):
            return post
        hidden = NotFound(f"there is no post {post.id!r} in blog {blog.slug!r}")
        if user is None or post.status is PostStatus.DELETED:
            raise hidden
        member = await self.member(user, blog)
        if not permissions.may(user, Action.SEE_UNPUBLISHED, blog=blog, member=member, post=post):
            raise hidden
        return post

    async def newsroom_posts(
        self, user: User, slug: str, statuses: tuple[PostStatus, ...], *, limit: int = 100
    ) -> list[Post]:
        """Unpublished posts of a blog in `statuses` that `user` may see (the console's lists)."""
        blog = await self.store.get_blog(slug)
        member = await self._ensure(user, Action.OPEN_BLOG, blog)
        posts, _ = await self.store.list_posts(blog, statuses=statuses, limit=limit)
        return [
            p
            for p in posts
            if permissions.may(user, Action.SEE_UNPUBLISHED, blog=blog, member=member, post=p)
        ]

    async def revisions(self, user: User, slug: str, post_id: str) -> list[Revision]:
        blog = await self.store.get_blog(slug)
        member = await self._ensure(user, Action.OPEN_BLOG, blog)
        post = await self.store.get_post(blog, post_id)
        permissions.check(user, Action.SEE_HISTORY, blog=blog, member=member, post=post)
        return await self.store.list_revisions(blog, post_id)

    async def editing(
        self, user: User, slug: str, post_id: str, *, leaving: bool = False
    ) -> list[str]:
        """Say that `user` has the post open in the editor (or has left it); the names of the
        others who have it open. Nobody is locked out: the console shows the names."""
        blog = await self.store.get_blog(slug)
        await self._ensure(user, Action.OPEN_BLOG, blog)
        post = await self.store.get_post(blog, post_id)
        assert user.id is not None
        if leaving:
            await self.store.left(post.id, user.id)
            return []
        return await self.store.present(
            post.id, user.id, user.name, gone_after=PRESENCE, now=self.clock()
        )

    # -- writing ---------------------------------------------------------------------------

    async def write_post(
        self,
        user: User,
        slug: str,
        data: Mapping[str, Any] | PostCreate,
        *,
        origin: str | None = None,
    ) -> Post:
        """A new post. `origin`: where a post from outside came from (a reporter input's
        message); a second post of the same origin is refused with AlreadyPosted."""
        blog = await self.store.get_blog(slug)
        member = await self._ensure(user, Action.WRITE, blog)
        # Who may do what is checked on what was asked for, before the rest is validated.
        for action in _asked_for(data, changing=False):
            permissions.check(user, action, blog=blog, member=member)
        sent = parse(PostCreate, data)
        if sent.status is not None:
            status = PostStatus(sent.status)
        elif permissions.may(user, Action.PUBLISH, blog=blog, member=member):
            status = PostStatus.PUBLISHED
        else:
            status = PostStatus.SUBMITTED  # a contributor's post goes to review
        published = status is PostStatus.PUBLISHED
        post = Post(
            blog_slug=blog.slug,
            headline=sent.headline,
            # The writer is the byline unless one is given (an empty one included).
            byline=(
                _byline(sent.byline)
                if "byline" in sent.model_fields_set
                else Byline((Person(user.name),))
            ),
            contributors=list(sent.contributors) if sent.contributors else None,
            media=_media(sent.media, await self._uploads(sent.media)),
            tags=list(sent.tags),
            pinned=sent.pinned,
            key_event=sent.key_event,
            status=status,
            published_at=(sent.published_at or self.clock()) if published else None,
            publish_at=sent.publish_at if status is PostStatus.SCHEDULED else None,
            poll=polls.new_poll(sent.poll, self.clock()) if sent.poll is not None else None,
            # Key events notify followers unless the writer says otherwise (only editors mark
            # key events, and only they notify).
            notify=sent.key_event if sent.notify is None else sent.notify,
            origin=origin,
        )
        self.apply_body(post, sent.body)
        if status in _GOING_OUT and not _has_words(post):
            raise Conflict("a post needs a headline, a body or an image before it is published")
        emit = EventType.POST_PUBLISHED if published else None

        def check(blog: Blog) -> None:
            if status in _GOING_OUT:
                _still_covering(blog)

        post, event = await self.store.insert_post(
            blog, post, user_id=user.id, emit=emit, shape=shapes.event_payload, check=check
        )
        self._announce(event)
        self.wake_fetcher(post)
        return post

    async def edit_post(
        self,
        user: User,
        slug: str,
        post_id: str,
        data: Mapping[str, Any] | PostPatch,
        *,
        any_revision: bool = False,
    ) -> Post:
        """Change a post. An edit of its words, pictures, tags, correction or time (`_EDITS`)
        names the revision it started from (`base_revision`), and is refused with the current
        version if the post has moved on since; `any_revision` (HTTP's `If-Match: *`) is a
        deliberate overwrite. Pins, flags and status changes need no revision."""
        blog = await self.store.get_blog(slug)
        member = await self._ensure(user, Action.OPEN_BLOG, blog)
        for action in _asked_for(data, changing=True):
            permissions.check(user, action, blog=blog, member=member)
        sent = parse(PostPatch, data)
        fields = sent.model_fields_set
        wanted = PostStatus(sent.status) if sent.status else None
        # What the post's text becomes, read before the transaction (uploads and revisions never
        # change once written).
        new: dict[str, Any] = {}
        if sent.restore_revision is not None:
            extra = fields - {"restore_revision", "correction", "base_revision"}
            if extra:
                raise Invalid(
                    "restore_revision replaces the post's text with that revision's; send it "
                    "alone (or with a correction note, and the base_revision it was chosen "
                    f"on), not with {', '.join(sorted(extra))}",
                    field="restore_revision",
                )
            new = await self._revision_content(blog.slug, post_id, sent.restore_revision)
        if sent.headline is not None:
            new["headline"] = sent.headline
        if sent.body is not None:
            new["body"] = sent.body
        if sent.byline is not None:
            new["byline"] = _byline(sent.byline)
        if "contributors" in fields:
            new["contributors"] = list(sent.contributors or []) or None
        if sent.media is not None:
            new["media"] = _media(sent.media, await self._uploads(sent.media))
        clock = self.clock

        def change(post: Post, current: Blog) -> PostChange:
            if post.status is PostStatus.DELETED:
                raise NotFound(f"post {post_id!r} was deleted")
            permissions.check(user, Action.EDIT_POST, blog=blog, member=member, post=post)
            if fields & _EDITS and sent.base_revision is None and not any_revision:
                raise PreconditionRequired(
                    "an edit carries the revision it started from, so that it never undoes "
                    "someone else's: send base_revision (the post's revision when you read it) "
                    f"or the ETag of GET …/posts/{post_id} as If-Match (If-Match: * overwrites "
                    "any version)"
                )
            if sent.base_revision is not None and sent.base_revision != post.revision:
                raise Conflict(
                    f"post {post_id!r} has changed since revision {sent.base_revision}: it is at "
                    f"revision {post.revision} now. Merge your changes into the current version "
                    "(in `current`) and send them again with its revision as base_revision "
                    "(or its ETag as If-Match)",
                    extra={"current": shapes.post_json(post)},
                )
            was_published = post.visible
            if was_published and wanted is PostStatus.PUBLISHED:
                raise Conflict(f"post {post_id!r} is already published")
            content_changed = False
            for name, value in new.items():
                if value != getattr(post, name):
                    setattr(post, name, value)
                    content_changed = True
            if "body" in new:
                self.apply_body(post, post.body)
            if sent.tags is not None and list(sent.tags) != post.tags:
                post.tags, content_changed = list(sent.tags), True
            if "correction" in fields and (sent.correction or None) != post.correction:
                post.correction, content_changed = (sent.correction or None), True
            moved = sent.published_at is not None and sent.published_at != post.published_at
            if moved and was_published:
                post.published_at, content_changed = sent.published_at, True

            pin_changed = sent.pinned is not None and sent.pinned != post.pinned
            key_changed = sent.key_event is not None and sent.key_event != post.key_event
            if pin_changed:
                post.pinned = bool(sent.pinned)
            if key_changed:
                post.key_event = bool(sent.key_event)
            _notify(post, sent.notify, key_changed, was_published)
            if "review_note" in fields:
                post.review_note = sent.review_note or None
            poll_changed = False
            if "poll" in fields:
                poll = polls.changed_poll(post.poll, sent.poll, clock())
                poll_changed, post.poll = poll != post.poll, poll

            new_status = wanted or post.status
            if was_published and new_status is not PostStatus.PUBLISHED:
                raise Conflict(
                    "a published post cannot go back to draft; delete it (it is kept in the store)"
                )
            if new_status is PostStatus.SCHEDULED:
                post.publish_at = sent.publish_at or post.publish_at
                if post.publish_at is None:
                    raise Invalid("a scheduled post needs publish_at", field="publish_at")
            elif sent.publish_at is not None:
                raise Invalid(
                    "publish_at goes with status 'scheduled'; send both", field="publish_at"
                )
            if not was_published and new_status in _GOING_OUT:
                if not _has_words(post):
                    raise Conflict(
                        "a post needs a headline, a body or an image before it is published"
                    )
                _still_covering(current)
            emit: EventType | None = None
            count_delta = 0
            if not was_published and new_status is PostStatus.PUBLISHED:
                post.status = PostStatus.PUBLISHED
                post.published_at = sent.published_at or clock()
                post.publish_at = None
                post.review_note = None
                emit, count_delta = EventType.POST_PUBLISHED, 1
            elif not was_published:
                post.status = new_status
                if new_status is not PostStatus.SCHEDULED:
                    post.publish_at = None
            elif content_changed or poll_changed or (pin_changed and key_changed):
                emit = EventType.POST_UPDATED
            elif pin_changed:
                emit = EventType.POST_PINNED if post.pinned else EventType.POST_UNPINNED
            elif key_changed:
                emit = (
                    EventType.POST_KEY_EVENT if post.key_event else EventType.POST_KEY_EVENT_CLEARED
                )
            return PostChange(
                emit=emit,
                new_revision=content_changed,
                note=sent.correction if "correction" in fields else None,
                count_delta=count_delta,
            )

        post, event = await self.store.change_post(
            blog, post_id, change, user_id=user.id, shape=shapes.event_payload
        )
        self._announce(event)
        self.wake_fetcher(post)
        return post

    async def _revision_content(self, slug: str, post_id: str, number: int) -> dict[str, Any]:
        blog = await self.store.get_blog(slug)
        revisions = {r.number: r for r in await self.store.list_revisions(blog, post_id)}
        revision = revisions.get(number)
        if revision is None:
            last = max(revisions, default=0)
            raise NotFound(f"post {post_id!r} has no revision {number}; it has 1 to {last}")
        return {name: getattr(revision, name) for name in _CONTENT}

    async def delete_post(
        self, user: User, slug: str, post_id: str, data: Mapping[str, Any] | PostDelete
    ) -> Post:
        """Deleted posts stay in the store (and their revisions); readers' pages drop them.
        Retracting a published post needs a reason, kept with the post for the newsroom."""
        blog = await self.store.get_blog(slug)
        member = await self._ensure(user, Action.OPEN_BLOG, blog)
        reason = parse(PostDelete, data).reason

        def change(post: Post, current: Blog) -> PostChange:
            if post.status is PostStatus.DELETED:
                raise NotFound(f"post {post_id!r} was already deleted")
            permissions.check(user, Action.DELETE_POST, blog=blog, member=member, post=post)
            was_published = post.visible
            if was_published and not (reason and reason.strip()):
                raise Invalid(
                    "deleting a published post needs a reason, such as 'duplicate of an earlier "
                    'post\'; send {"reason": "…"}',
                    field="reason",
                )
            post.status = PostStatus.DELETED
            post.delete_reason = reason
            if not was_published:
                return PostChange()
            return PostChange(emit=EventType.POST_DELETED, count_delta=-1)

        post, event = await self.store.change_post(
            blog, post_id, change, user_id=user.id, shape=shapes.event_payload
        )
        self._announce(event)
        return post

    # -- scheduled posts -------------------------------------------------------------------

    async def publish_due(self) -> list[Post]:
        """Publish every scheduled post whose time has come. Safe to run on every node at once:
        each post is published by whichever transaction locks it first, and only once."""
        now = self.clock()

        def change(post: Post, blog: Blog) -> PostChange | None:
            if blog.status is BlogStatus.ENDED:
                return None  # coverage ended meanwhile: it waits for a reopening
            if post.status is not PostStatus.SCHEDULED:
                return None  # published, unscheduled or deleted meanwhile
            if post.publish_at is None or post.publish_at > now:
                return None  # moved later meanwhile
            post.status = PostStatus.PUBLISHED
            post.published_at = now
            post.publish_at = None
            return PostChange(emit=EventType.POST_PUBLISHED, count_delta=1)

        published: list[Post] = []
        for blog_id, post_id in await self.store.due_posts(now):
            blog = await self.store.get_blog_by_id(blog_id)
            post, event = await self.store.change_post(
                blog, post_id, change, user_id=None, shape=shapes.event_payload, at=now
            )
            if event is not None:
                self._announce(event)
                published.append(post)
        return published
