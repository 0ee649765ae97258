"""What the templates show: the contract's JSON plus the words and times as readers see them.

The page, the live stream's HTML fragments and (later) the embed and feed all present a post
through `post_view`, so a post looks the same everywhere."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dateline import render
from dateline.model import Blog
from dateline.newsroom import urls


def _parse(moment: str | None) -> datetime | None:
    return datetime.fromisoformat(moment) if moment else None


def post_view(post: dict[str, Any], blog: Blog) -> dict[str, Any]:
    """`post` is the contract's post JSON (from the store or an event payload)."""
    tz, org = blog.timezone, blog.organisation
    published = _parse(post.get("published_at"))
    updated = _parse(post.get("updated_at"))
    names = [p["name"] for p in post["byline"]["people"]]
    edited = post["revision"] > 1 and updated is not None and published is not None
    return {
        **post,
        "published_iso": post.get("published_at"),
        "published_ap": render.ap_datetime(published, tz) if published else "",
        "updated_iso": post.get("updated_at"),
        "updated_ap": render.ap_clock(updated, tz) if updated and edited else "",
        "byline_text": render.byline_text(names, post["byline"]["location"], org),
        "contributors_text": (
            render.contributors_text(post["contributors"], org) if post["contributors"] else ""
        ),
        "dom_id": "post-" + post["id"],
    }


def blog_view(blog: Blog) -> dict[str, Any]:
    tz = blog.timezone
    start = blog.coverage_start or blog.created_at
    names = [a.name for a in blog.authors]
    by = render.join_names(names)
    if by and blog.organisation:
        by = f"{by}, {blog.organisation}"
    return {
        "slug": blog.slug,
        "title": blog.title,
        "summary_html": render.markdown_to_html(blog.summary) if blog.summary else "",
        "date_ap": render.ap_date(start, tz) if start else "",
        "by_line": by,
        "updated_iso": render.rfc3339(blog.updated_at),
        "updated_ap": render.ap_datetime(blog.updated_at, tz) if blog.updated_at else "",
        "post_count": blog.post_count,
        "last_seq": blog.last_seq,
        "status": blog.status.value,
        "url": urls.blog_path(blog.slug),
        "live_url": urls.live_path(blog.slug),
        "delta_url": urls.api_events_path(blog.slug),
        "timezone": blog.timezone,
        "feed_url": urls.feed_path(blog.slug),
    }
