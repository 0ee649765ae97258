"""What search engines and link previews read: schema.org JSON-LD, Open Graph, Twitter cards."""

from __future__ import annotations

from typing import Any

import orjson

from dateline import render
from dateline.model import Blog, BlogStatus, ScoreKind


def _person_list(names: list[str]) -> list[dict[str, str]]:
    return [{"@type": "Person", "name": n} for n in names]


def image_url(media: dict[str, Any], origin: str) -> str | None:
    """A post image's address for link previews and search engines: an animation's poster,
    since they show stills (and many cannot read an animated WebP)."""
    url = media.get("poster") or media.get("url")
    if not url:
        return None
    return str(url) if url.startswith("http") else origin + url


def blog_posting(post: dict[str, Any], blog: Blog, origin: str) -> dict[str, Any]:
    """One post as a schema.org BlogPosting (`post` is the contract's post JSON)."""
    names = [p["name"] for p in post["byline"]["people"]]
    item: dict[str, Any] = {
        "@type": "BlogPosting",
        "headline": post["headline"] or blog.title,
        "datePublished": post["published_at"],
        "dateModified": post["updated_at"],
        "articleBody": render.plain_text(post["body"]),
        "url": origin + post["url"],
        # A post without a byline is the organisation's, not every author's of the blog.
        "author": _person_list(names) if names else _publisher(blog),
    }
    images = [url for m in post["media"] if (url := image_url(m, origin))]
    if images:
        item["image"] = images
    return item


def _publisher(blog: Blog) -> dict[str, str] | list[dict[str, str]]:
    if blog.organisation:
        return {"@type": "Organization", "name": blog.organisation}
    return _person_list([a.name for a in blog.authors])


def first_image(posts: list[dict[str, Any]], origin: str) -> str | None:
    """The newest post's picture with an address, as the blog's own image."""
    for post in posts:
        for m in post.get("media") or ():
            if url := image_url(m, origin):
                return url
    return None


def live_blog_posting(blog: Blog, posts: list[dict[str, Any]], origin: str) -> dict[str, Any]:
    """The blog as schema.org's LiveBlogPosting, with `posts` (its latest 50, newest first) as
    its updates."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "headline": blog.title,
        "description": render.plain_text(blog.summary) if blog.summary else blog.title,
        "url": f"{origin}/{blog.slug}",
        "datePublished": render.rfc3339(blog.coverage_start or blog.created_at),
        "dateModified": render.rfc3339(blog.updated_at),
        "coverageStartTime": render.rfc3339(blog.coverage_start or blog.created_at),
        "author": _person_list([a.name for a in blog.authors]),
        "liveBlogUpdate": [blog_posting(p, blog, origin) for p in posts],
    }
    image = first_image(posts, origin)
    if image:
        data["image"] = image
    if blog.organisation:
        data["publisher"] = {"@type": "Organization", "name": blog.organisation}
    if blog.status is BlogStatus.ENDED and blog.coverage_end:
        data["coverageEndTime"] = render.rfc3339(blog.coverage_end)
    match = sports_event(blog)
    if match is not None:
        data["about"] = match
    return data


def sports_event(blog: Blog) -> dict[str, Any] | None:
    """The match a sport score box follows, as a schema.org SportsEvent (the first side at
    home). schema.org has no property for a score, so the score and the status line go in the
    event's description, as text. An election's or any other box gets nothing: schema.org has
    no type for it, and nothing is made up."""
    score = blog.score
    if score is None or score.kind is not ScoreKind.SPORT:
        return None
    home, away = score.sides
    text = f"{home.name} {home.score}, {away.name} {away.score}"
    return {
        "@type": "SportsEvent",
        "name": f"{home.name} v {away.name}",
        "homeTeam": {"@type": "SportsTeam", "name": home.name},
        "awayTeam": {"@type": "SportsTeam", "name": away.name},
        "description": f"{text}. {score.status}" if score.status else text,
    }


def script_json(data: dict[str, Any]) -> str:
    """JSON safe inside <script>: no "</script>" or "<!--" can close or confuse the element."""
    return orjson.dumps(data).decode().replace("<", "\\u003c").replace(">", "\\u003e")


def social(
    title: str, description: str, url: str, image: str | None = None, site: str = "Dateline"
) -> dict[str, str]:
    """Open Graph and Twitter card fields, rendered by _meta.html."""
    description = " ".join(description.split())  # one line: no raw newlines in a meta tag
    meta = {
        "og:type": "article",
        "og:site_name": site,
        "og:title": title,
        "og:description": description[:300],
        "og:url": url,
        "twitter:card": "summary_large_image" if image else "summary",
        "twitter:title": title,
        "twitter:description": description[:200],
    }
    if image:
        meta["og:image"] = image
        meta["twitter:image"] = image
    return meta
