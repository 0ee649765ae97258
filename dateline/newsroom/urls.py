"""Every public path is built here, so the pages, the API, the feeds and the event payloads agree.
(Pure functions, no web framework: the newsroom puts post URLs into event payloads.)"""

from __future__ import annotations

from urllib.parse import urlencode


def blog_path(slug: str, **query: str) -> str:
    return f"/{slug}" + (f"?{urlencode(query)}" if query else "")


def post_path(slug: str, post_id: str) -> str:
    return f"/{slug}/posts/{post_id}"


def poll_vote_path(slug: str, poll_id: str) -> str:
    return f"/{slug}/polls/{poll_id}/vote"


def followers_path(slug: str) -> str:
    """Where a browser follows (POST) and unfollows (DELETE) a story; with a trailing slash, the
    scope of the blog's push service worker (no page lives under it)."""
    return f"/{slug}/followers"


def live_path(slug: str) -> str:
    return f"/{slug}/live"


def feed_path(slug: str) -> str:
    return f"/{slug}/feed.atom"


def api_blog_path(slug: str) -> str:
    return f"/api/v1/blogs/{slug}"


def api_posts_path(slug: str) -> str:
    return f"/api/v1/blogs/{slug}/posts"


def api_post_path(slug: str, post_id: str) -> str:
    return f"/api/v1/blogs/{slug}/posts/{post_id}"


def api_events_path(slug: str) -> str:
    return f"/api/v1/blogs/{slug}/events"
