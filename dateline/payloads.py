"""The JSON shapes of the contract (DESIGN.md): fields may be added, never renamed."""

from __future__ import annotations

from typing import Any

from dateline import urls
from dateline.model import Blog, Event, Post, PostStatus
from dateline.render import rfc3339


def post_json(post: Post) -> dict[str, Any]:
    if post.status is PostStatus.DELETED:
        # A retracted post's words must not travel further: readers get only what to remove.
        return {
            "id": post.id,
            "blog": post.blog_slug,
            "seq": post.seq,
            "url": urls.post_path(post.blog_slug, post.id),
            "status": post.status.value,
            "updated_at": rfc3339(post.updated_at),
        }
    return {
        "id": post.id,
        "blog": post.blog_slug,
        "seq": post.seq,
        "url": urls.post_path(post.blog_slug, post.id),
        "headline": post.headline,
        "body": post.body,
        "body_html": post.body_html,
        "byline": post.byline.to_json(),
        "contributors": post.contributors,
        "media": [m.to_json() for m in post.media],
        "tags": post.tags,
        "pinned": post.pinned,
        "key_event": post.key_event,
        "status": post.status.value,
        "published_at": rfc3339(post.published_at),
        "updated_at": rfc3339(post.updated_at),
        "revision": post.revision,
        "correction": post.correction,
        "publish_at": rfc3339(post.publish_at) if post.publish_at else None,
    }


def blog_json(blog: Blog) -> dict[str, Any]:
    return {
        "slug": blog.slug,
        "title": blog.title,
        "summary": blog.summary,
        "organisation": blog.organisation,
        "authors": [a.to_json() for a in blog.authors],
        "timezone": blog.timezone,
        "status": blog.status.value,
        "coverage_start": rfc3339(blog.coverage_start),
        "coverage_end": rfc3339(blog.coverage_end),
        "updated_at": rfc3339(blog.updated_at),
        "post_count": blog.post_count,
        "last_seq": blog.last_seq,
        "url": urls.blog_path(blog.slug),
    }


def event_json(event: Event) -> dict[str, Any]:
    """`{"seq", "type", "post_id", "post" | "blog", "at"}`: the SSE `data:` and the delta items."""
    return {
        "seq": event.seq,
        "type": event.type.value,
        "post_id": event.post_id,
        **event.payload,
        "at": rfc3339(event.at),
    }
