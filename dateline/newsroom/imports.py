"""Importing a whole blog (a dump of another live blog) in one transaction."""

from __future__ import annotations

from dateline import render
from dateline.importers import ImportedBlog
from dateline.model import Blog, User
from dateline.newsroom import permissions, shapes
from dateline.newsroom.cases import Cases
from dateline.newsroom.permissions import Action


class ImportCases(Cases):
    async def import_blog(self, imported: ImportedBlog, user: User | None = None) -> Blog:
        """A whole blog in one transaction: on any error nothing is written. `user` None is the
        instance itself (the command line, with the database's own credentials)."""
        if user is not None:
            permissions.check(user, Action.CREATE_BLOG)
        for post in imported.posts:
            post.body_html = render.markdown_to_html(post.body)
        blog, events = await self.store.import_blog(
            imported.blog,
            imported.posts,
            user_id=user.id if user else None,
            shape=shapes.event_payload,
        )
        if events:
            self._announce(events[-1])
        return blog
