"""Who may read a blog: everyone, once it is live or ended; only its newsroom while it is a draft
(everyone else is told it does not exist). A draft's pages are never put in the shared cache."""

from __future__ import annotations

from starlette.requests import Request

from dateline.errors import NotFound
from dateline.model import Blog
from dateline.newsroom import permissions
from dateline.web.auth import optional_user
from dateline.web.services import services


async def readable_blog(request: Request) -> tuple[Blog, bool]:
    """The blog named in the path, and whether its answers may be shared (cached, public)."""
    found = services(request)
    slug = request.path_params["slug"]
    blog = await found.blogs.get(slug)
    if permissions.public_blog(blog):
        return blog, True
    user = await optional_user(request)
    if user is None or not await found.newsroom.can_open(user, blog):
        raise NotFound(f"there is no blog {slug!r}")
    return blog, False
