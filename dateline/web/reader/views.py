"""What the templates show: the contract's JSON plus the words and times as readers see them.

The page, the live stream's HTML fragments and (later) the embed and feed all present a post
through `post_view`, so a post looks the same everywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from dateline import render
from dateline.errors import BadRequest
from dateline.model import Blog, BlogStatus
from dateline.newsroom import urls


def _parse(moment: str | None) -> datetime | None:
    return datetime.fromisoformat(moment) if moment else None


def _updated(published: datetime | None, updated: datetime, tz: str) -> str:
    if published is not None and render.ap_date(published, tz) == render.ap_date(updated, tz):
        return render.ap_clock(updated, tz)
    return render.ap_datetime(updated, tz)


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
        # "Updated 3:28 p.m. ET" on the post's own day, with the date on any other.
        "updated_ap": _updated(published, updated, tz) if updated and edited else "",
        "byline_text": render.byline_text(names, post["byline"]["location"], org),
        "contributors_text": (
            render.contributors_text(post["contributors"], org) if post["contributors"] else ""
        ),
        "dom_id": "post-" + post["id"],
        "tag_links": [
            {"name": tag, "url": urls.blog_path(blog.slug, tag=tag)}
            for tag in post.get("tags") or ()
        ],
        "poll": poll_view(post["poll"], blog) if post.get("poll") else None,
    }


def _votes(n: int) -> str:
    return "1 vote" if n == 1 else f"{n:,} votes"


def poll_view(poll: dict[str, Any], blog: Blog, now: datetime | None = None) -> dict[str, Any]:
    """What _poll.html shows of the contract's poll JSON. Whether it has closed is decided now:
    the JSON may come from an event written before the closing time."""
    closes_at = datetime.fromisoformat(poll["closes_at"])
    # Ended coverage takes no more votes (the store refuses them): its polls show as final.
    closed = closes_at <= (now or datetime.now(UTC)) or blog.status is BlogStatus.ENDED
    return {
        **poll,
        "closed": closed,
        "dom_id": "poll-" + poll["id"],
        "closes_ap": render.ap_datetime(closes_at, blog.timezone),
        "closes_iso": poll["closes_at"],
        "votes_text": _votes(poll["total_votes"]),
        "choices": [
            {
                **option,
                "index": i,
                "percent_text": f"{round(option['percent'])}%",
                "votes_text": _votes(option["votes"]),
            }
            for i, option in enumerate(poll["options"])
        ],
    }


def tag_param(request: Request) -> str | None:
    """The `?tag=` a reader filters by, if any (a tag is at most 50 characters of text)."""
    tag = request.query_params.get("tag")
    if tag is None:
        return None
    if not 1 <= len(tag) <= 50 or any(ord(ch) < 32 for ch in tag):
        raise BadRequest("tag must be 1 to 50 characters of text", field="tag")
    return tag


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


_SCORE_TITLES = {"election": "Results"}


def score_view(score: dict[str, Any] | None) -> dict[str, Any] | None:
    """The score box as _score.html shows it; `score` is the contract's score JSON (a blog's, or
    the blog of an event), None when there is no box. `text` is what a screen reader is told
    when it changes: "Arsenal 2, Chelsea 1. 2nd half 67'"."""
    if not score:
        return None
    sides = [{**side, "shown": f"{side['score']:,}"} for side in score["sides"]]
    text = ", ".join(f"{side['name']} {side['shown']}" for side in sides)
    if score["status"]:
        text = f"{text}. {score['status']}"
    return {
        **score,
        "sides": sides,
        "text": text,
        "title": _SCORE_TITLES.get(score["kind"], "Score"),
    }


# The embed's options, as the snippet states them (docs/embedding.md).
EMBED_OPTIONS = "posts=10&amp;layout=full&amp;pinned=1&amp;key_events=0"


def embed_snippet(origin: str, slug: str) -> str:
    """The copy-paste snippet for other sites (docs/embedding.md), with this server's address."""
    return (
        f'<iframe src="{origin}/{slug}/embed?{EMBED_OPTIONS}" data-dateline-embed '
        'title="Live coverage" style="width:100%;border:0;min-height:600px" loading="lazy">'
        f'</iframe>\n<script async src="{origin}/static/embed.js"></script>'
    )
