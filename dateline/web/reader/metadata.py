"""What search engines and link previews read: schema.org JSON-LD, Open Graph, Twitter cards."""

from __future__ import annotations

from typing import Any

import orjson

from dateline import render
from dateline.model import Blog, BlogStatus


def _person_list(names: list[str]) -> list[dict[str, str]]:
    return [{"@type": "Person", "name": n} for n in names]


def blog_posting(post: dict[str, Any], blog: Blog, origin: str) -> dict[str, Any]:
    """One post as a schema.org BlogPosting (`post` is the contract's post JSON)."""
    names = [p["name"] for p in post["byline"]["people"]] or [a.name for a in blog.authors]
    item: dict[str, Any] = {
        "@type": "BlogPosting",
        "headline": post["headline"] or blog.title,
        "datePublished": post["published_at"],
        "dateModified": post["updated_at"],
        "articleBody": render.plain_text(post["body"]),
        "url": origin + post["url"],
        "author": _person_list(names),
    }
    images = [m for m in post["media"] if m.get("url")]
    if images:
        item["image"] = [
            m["url"] if m["url"].startswith("http") else origin + m["url"] for m in images
        ]
    return item


def live_blog_posting(blog: Blog, posts: list[dict[str, Any]], origin: str) -> dict[str, Any]:
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
    if blog.organisation:
        data["publisher"] = {"@type": "Organization", "name": blog.organisation}
    if blog.status is BlogStatus.ENDED and blog.coverage_end:
        data["coverageEndTime"] = render.rfc3339(blog.coverage_end)
    return data


def script_json(data: dict[str, Any]) -> str:
    """JSON safe inside <script>: no "</script>" or "<!--" can close or confuse the element."""
    return orjson.dumps(data).decode().replace("<", "\\u003c").replace(">", "\\u003e")


def social(title: str, description: str, url: str, image: str | None = None) -> dict[str, str]:
    """Open Graph and Twitter card fields, rendered by _meta.html."""
    meta = {
        "og:type": "article",
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
