"""Blogs: creating one, changing its header (and its score box), going live, ending coverage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dateline.model import Blog, BlogStatus, EventType, Person, User
from dateline.newsroom import permissions, shapes
from dateline.newsroom.cases import Cases, parse
from dateline.newsroom.inputs import BlogCreate, BlogPatch
from dateline.newsroom.permissions import Action
from dateline.newsroom.scores import set_score


class BlogCases(Cases):
    async def create_blog(self, user: User, data: Mapping[str, Any] | BlogCreate) -> Blog:
        permissions.check(user, Action.CREATE_BLOG)
        sent = parse(BlogCreate, data)
        now = self.clock()
        status = BlogStatus(sent.status)
        blog = Blog(
            slug=sent.slug,
            title=sent.title,
            timezone=sent.timezone,
            summary=sent.summary,
            organisation=sent.organisation,
            authors=[Person(a.name) for a in sent.authors],
            status=status,
            coverage_start=now if status is not BlogStatus.DRAFT else None,
            coverage_end=now if status is BlogStatus.ENDED else None,
        )
        return await self.store.create_blog(blog, creator=user)

    async def update_blog(self, user: User, slug: str, data: Mapping[str, Any] | BlogPatch) -> Blog:
        found = await self.store.get_blog(slug)
        member = await self._ensure(user, Action.EDIT_BLOG, found)
        sent = parse(BlogPatch, data)
        now = self.clock()
        score_only = sent.model_fields_set == {"score"}
        if "score" in sent.model_fields_set:
            permissions.check(user, Action.KEEP_SCORE, blog=found, member=member)

        def change(blog: Blog) -> EventType | None:
            if sent.title is not None:
                blog.title = sent.title
            if sent.summary is not None:
                blog.summary = sent.summary
            if sent.organisation is not None:
                blog.organisation = sent.organisation
            if sent.authors is not None:
                blog.authors = [Person(a.name) for a in sent.authors]
            if sent.timezone is not None:
                blog.timezone = sent.timezone
            if "score" in sent.model_fields_set:
                blog.score = set_score(blog.score, sent.score)
            emit: EventType | None = EventType.BLOG_UPDATED if sent.model_fields_set else None
            if score_only:
                emit = EventType.BLOG_SCORE
            if sent.status is not None and sent.status != blog.status.value:
                new_status = BlogStatus(sent.status)
                if new_status is BlogStatus.ENDED:
                    blog.coverage_end = now
                    emit = EventType.BLOG_ENDED
                else:
                    blog.coverage_end = None
                    if new_status is BlogStatus.LIVE and blog.coverage_start is None:
                        blog.coverage_start = now
                blog.status = new_status
            return emit

        blog, event = await self.store.change_blog(slug, change, shape=shapes.event_payload)
        self._announce(event)
        return blog

    async def blogs_of(self, user: User) -> list[Blog]:
        """The blogs `user` works on (every blog, for an admin)."""
        blogs = await self.store.list_blogs()
        if permissions.may(user, Action.OPEN_BLOG, member=False):
            return blogs
        assert user.id is not None
        mine = await self.store.member_blog_ids(user.id)
        return [b for b in blogs if b.id in mine]

    async def open_blog(self, user: User, slug: str) -> Blog:
        """The blog `slug`, if `user` works on it (its console)."""
        blog = await self.store.get_blog(slug)
        await self._ensure(user, Action.OPEN_BLOG, blog)
        return blog
