"""The newsroom's use cases: the rules of who may do what, and what readers see as a result.

Every method checks permissions, validates, writes through the store (the change and its event in
one transaction) and only then tells the bus, so an event is never announced before it exists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dateline import render
from dateline.bus import Bus
from dateline.errors import Conflict, Forbidden, Invalid, NotFound
from dateline.importers import ImportedBlog
from dateline.inputs import BlogCreate, BlogPatch, BylineIn, MediaIn, PostCreate, PostPatch
from dateline.model import (
    Blog,
    BlogStatus,
    Byline,
    Event,
    EventType,
    Media,
    Person,
    Post,
    PostStatus,
    Revision,
    Role,
    User,
)
from dateline.store import Store


def _byline(data: BylineIn) -> Byline:
    return Byline(tuple(Person(p.name) for p in data.people), data.location or None)


UPLOADS = "/media/"


def _media(items: list[MediaIn], uploads: dict[str, dict[str, Any]]) -> list[Media]:
    """Images as posts keep them. For this server's uploads (`/media/NAME`), the size and the
    srcset come from the upload's record, never from the client."""
    found = []
    for m in items:
        upload = uploads.get(m.url or "")
        if upload is None:
            found.append(
                Media(m.alt, m.caption, m.credit, url=m.url, width=m.width, height=m.height)
            )
            continue
        srcset = ", ".join(f"{UPLOADS}{v['name']} {v['width']}w" for v in upload["variants"])
        found.append(
            Media(
                m.alt,
                m.caption,
                m.credit,
                url=m.url,
                width=upload["width"],
                height=upload["height"],
                srcset=srcset,
            )
        )
    return found


class Newsroom:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        on_commit: Callable[[int, int], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.bus = bus
        # Told synchronously of each commit, so this node's next read already knows of it.
        self.on_commit = on_commit
        # What time it is for publishing and scheduling (tests move it forward).
        self.clock = clock

    async def _announce(self, event: Event | None) -> None:
        if event is not None:
            if self.on_commit is not None:
                self.on_commit(event.blog_id, event.seq)
            await self.bus.publish(event.blog_id, event.seq)

    # -- permissions -----------------------------------------------------------------------

    async def _require_member(self, user: User, blog: Blog) -> None:
        if user.is_admin:
            return
        assert user.id is not None and blog.id is not None
        if not await self.store.is_member(user.id, blog.id):
            raise Forbidden(f"you are not a member of blog {blog.slug!r}; ask an admin to add you")

    def _require_editor(self, user: User, action: str) -> None:
        if user.role is Role.CONTRIBUTOR:
            raise Forbidden(
                f"contributors cannot {action}; submit the post for review and an editor will"
            )

    # -- blogs -----------------------------------------------------------------------------

    async def create_blog(self, user: User, data: BlogCreate) -> Blog:
        if user.role is Role.CONTRIBUTOR:
            raise Forbidden("contributors cannot create blogs; ask an editor")
        now = datetime.now(UTC)
        status = BlogStatus(data.status)
        blog = Blog(
            slug=data.slug,
            title=data.title,
            timezone=data.timezone,
            summary=data.summary,
            organisation=data.organisation,
            authors=[Person(a.name) for a in data.authors],
            status=status,
            coverage_start=now if status is not BlogStatus.DRAFT else None,
            coverage_end=now if status is BlogStatus.ENDED else None,
        )
        return await self.store.create_blog(blog, creator=user)

    async def update_blog(self, user: User, slug: str, data: BlogPatch) -> Blog:
        blog = await self.store.get_blog(slug)
        await self._require_member(user, blog)
        self._require_editor(user, "change a blog's header")
        changes = data.model_fields_set
        if data.title is not None:
            blog.title = data.title
        if data.summary is not None:
            blog.summary = data.summary
        if data.organisation is not None:
            blog.organisation = data.organisation
        if data.authors is not None:
            blog.authors = [Person(a.name) for a in data.authors]
        if data.timezone is not None:
            blog.timezone = data.timezone
        emit: EventType | None = EventType.BLOG_UPDATED if changes else None
        if data.status is not None and data.status != blog.status.value:
            new_status = BlogStatus(data.status)
            now = datetime.now(UTC)
            if new_status is BlogStatus.ENDED:
                blog.coverage_end = now
                emit = EventType.BLOG_ENDED
            else:
                blog.coverage_end = None
                if new_status is BlogStatus.LIVE and blog.coverage_start is None:
                    blog.coverage_start = now
            blog.status = new_status
        blog, event = await self.store.update_blog(blog, emit)
        await self._announce(event)
        return blog

    # -- posts -----------------------------------------------------------------------------

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

    async def write_post(self, user: User, slug: str, data: PostCreate) -> Post:
        blog = await self.store.get_blog(slug)
        await self._require_member(user, blog)
        if user.role is Role.CONTRIBUTOR:
            if data.status in ("published", "scheduled"):
                raise Forbidden(
                    "contributors cannot publish or schedule; send status 'submitted' "
                    "for an editor to review"
                )
            if data.pinned or data.key_event:
                raise Forbidden("contributors cannot pin posts or mark key events")
            status = PostStatus(data.status or "submitted")
        else:
            status = PostStatus(data.status or "published")
        published = status is PostStatus.PUBLISHED
        if status in (PostStatus.PUBLISHED, PostStatus.SCHEDULED) and not (
            data.headline or data.body.strip() or data.media
        ):
            raise Conflict("a post needs a headline, a body or an image before it is published")
        post = Post(
            blog_slug=blog.slug,
            headline=data.headline,
            body=data.body,
            body_html=render.markdown_to_html(data.body),
            byline=_byline(data.byline),
            contributors=list(data.contributors) if data.contributors else None,
            media=_media(data.media, await self._uploads(data.media)),
            tags=list(data.tags),
            pinned=data.pinned,
            key_event=data.key_event,
            status=status,
            published_at=(data.published_at or self.clock()) if published else None,
            publish_at=data.publish_at if status is PostStatus.SCHEDULED else None,
            author_id=user.id,
        )
        emit = EventType.POST_PUBLISHED if published else None
        post, event = await self.store.insert_post(blog, post, user_id=user.id, emit=emit)
        await self._announce(event)
        return post

    async def edit_post(self, user: User, slug: str, post_id: str, data: PostPatch) -> Post:
        blog = await self.store.get_blog(slug)
        await self._require_member(user, blog)
        post = await self.store.get_post(blog, post_id)
        if post.status is PostStatus.DELETED:
            raise NotFound(f"post {post_id!r} was deleted")
        was_published = post.visible
        fields = data.model_fields_set
        if user.role is Role.CONTRIBUTOR:
            if was_published or post.author_id != user.id:
                raise Forbidden("contributors can only edit their own unpublished posts")
            if post.status is PostStatus.SCHEDULED or data.status in ("published", "scheduled"):
                raise Forbidden("contributors cannot publish or schedule posts")
            if {"pinned", "key_event", "review_note"} & fields:
                raise Forbidden("contributors cannot pin, mark key events or review posts")

        if data.restore_revision is not None:
            await self._restore(blog, post, data)
        content_changed = False
        if data.headline is not None and data.headline != post.headline:
            post.headline, content_changed = data.headline, True
        if data.body is not None and data.body != post.body:
            post.body, content_changed = data.body, True
            post.body_html = render.markdown_to_html(data.body)
        if data.byline is not None and _byline(data.byline) != post.byline:
            post.byline, content_changed = _byline(data.byline), True
        if "contributors" in fields and (data.contributors or None) != post.contributors:
            post.contributors, content_changed = (list(data.contributors or []) or None), True
        if data.media is not None:
            new_media = _media(data.media, await self._uploads(data.media))
            if new_media != post.media:
                post.media, content_changed = new_media, True
        if data.tags is not None and list(data.tags) != post.tags:
            post.tags, content_changed = list(data.tags), True
        if "correction" in fields and data.correction != post.correction:
            post.correction, content_changed = (data.correction or None), True
        moved = data.published_at is not None and data.published_at != post.published_at
        if moved and was_published:
            post.published_at, content_changed = data.published_at, True

        pin_changed = data.pinned is not None and data.pinned != post.pinned
        key_changed = data.key_event is not None and data.key_event != post.key_event
        if pin_changed:
            post.pinned = bool(data.pinned)
        if key_changed:
            post.key_event = bool(data.key_event)

        if "review_note" in fields:
            post.review_note = data.review_note or None

        emit: EventType | None = None
        count_delta = 0
        new_status = PostStatus(data.status) if data.status else post.status
        if was_published and new_status is not PostStatus.PUBLISHED:
            raise Conflict(
                "a published post cannot go back to draft; delete it (it is kept in the store)"
            )
        if new_status is PostStatus.SCHEDULED:
            post.publish_at = data.publish_at or post.publish_at
            if post.publish_at is None:
                raise Invalid("a scheduled post needs publish_at", field="publish_at")
        elif data.publish_at is not None:
            raise Invalid("publish_at goes with status 'scheduled'; send both", field="publish_at")
        going_out = new_status in (PostStatus.PUBLISHED, PostStatus.SCHEDULED)
        if (
            not was_published
            and going_out
            and not (post.headline or post.body.strip() or post.media)
        ):
            raise Conflict("a post needs a headline, a body or an image before it is published")
        if not was_published and new_status is PostStatus.PUBLISHED:
            post.status = PostStatus.PUBLISHED
            post.published_at = data.published_at or self.clock()
            post.publish_at = None
            post.review_note = None
            emit, count_delta = EventType.POST_PUBLISHED, 1
        elif not was_published:
            post.status = new_status
            if new_status is not PostStatus.SCHEDULED:
                post.publish_at = None
        elif content_changed or (pin_changed and key_changed):
            emit = EventType.POST_UPDATED
        elif pin_changed:
            emit = EventType.POST_PINNED if post.pinned else EventType.POST_UNPINNED
        elif key_changed:
            emit = EventType.POST_KEY_EVENT if post.key_event else EventType.POST_KEY_EVENT_CLEARED

        post, event = await self.store.update_post(
            blog,
            post,
            user_id=user.id,
            new_revision=content_changed,
            note=data.correction if "correction" in fields else None,
            emit=emit,
            count_delta=count_delta,
        )
        await self._announce(event)
        return post

    async def delete_post(self, user: User, slug: str, post_id: str, reason: str | None) -> Post:
        """Deleted posts stay in the store (and their revisions); readers' pages drop them.
        Retracting a published post needs a reason, kept with the post for the newsroom."""
        blog = await self.store.get_blog(slug)
        await self._require_member(user, blog)
        post = await self.store.get_post(blog, post_id)
        if post.status is PostStatus.DELETED:
            raise NotFound(f"post {post_id!r} was already deleted")
        if user.role is Role.CONTRIBUTOR and (post.visible or post.author_id != user.id):
            raise Forbidden("contributors can only delete their own unpublished posts")
        was_published = post.visible
        if was_published and not (reason and reason.strip()):
            raise Invalid(
                "deleting a published post needs a reason, such as 'duplicate of an earlier "
                'post\'; send {"reason": "…"}',
                field="reason",
            )
        post.status = PostStatus.DELETED
        post.delete_reason = reason
        post, event = await self.store.update_post(
            blog,
            post,
            user_id=user.id,
            new_revision=False,
            note=None,
            emit=EventType.POST_DELETED if was_published else None,
            count_delta=-1 if was_published else 0,
        )
        await self._announce(event)
        return post

    async def _restore(self, blog: Blog, post: Post, data: PostPatch) -> None:
        """Fill `data` with revision N's content, so the edit below saves it as a new revision."""
        number = data.restore_revision
        revisions = {r.number: r for r in await self.store.list_revisions(blog, post.id)}
        revision = revisions.get(number or 0)
        if revision is None:
            raise NotFound(
                f"post {post.id!r} has no revision {number}; it has 1 to {post.revision}"
            )
        data.headline = revision.headline
        data.body = revision.body
        data.byline = BylineIn.model_validate(revision.byline.to_json())
        data.contributors = revision.contributors or []
        data.media = [MediaIn.model_validate(m.to_json()) for m in revision.media]
        data.model_fields_set.update({"headline", "body", "byline", "contributors", "media"})

    async def revisions(self, user: User, slug: str, post_id: str) -> list[Revision]:
        blog = await self.store.get_blog(slug)
        await self._require_member(user, blog)
        post = await self.store.get_post(blog, post_id)
        if user.role is Role.CONTRIBUTOR and post.author_id != user.id:
            raise Forbidden("contributors can only see the history of their own posts")
        return await self.store.list_revisions(blog, post_id)

    # -- scheduled posts -------------------------------------------------------------------

    async def publish_due(self) -> list[Post]:
        """Publish every scheduled post whose time has come. Safe to run on every node at once:
        the store publishes each post exactly once."""
        now = self.clock()
        published: list[Post] = []
        for blog_id, post_id in await self.store.due_posts(now):
            done = await self.store.publish_scheduled(blog_id, post_id, now)
            if done is not None:
                post, event = done
                await self._announce(event)
                published.append(post)
        return published

    # -- import ----------------------------------------------------------------------------

    async def import_blog(self, imported: ImportedBlog, user: User | None = None) -> Blog:
        """A whole blog in one transaction: on any error nothing is written."""
        for post in imported.posts:
            post.body_html = render.markdown_to_html(post.body)
        blog, events = await self.store.import_blog(
            imported.blog, imported.posts, user_id=user.id if user else None
        )
        if events:
            await self._announce(events[-1])
        return blog
