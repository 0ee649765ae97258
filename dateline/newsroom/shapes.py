"""The JSON shapes of the contract (DESIGN.md): fields may be added, never renamed.

A post's and a blog's fields come from the model's dataclasses (every field not marked internal),
so a field added there is shown here without another list to keep. The newsroom hands
`event_payload` to the store, which calls it inside the write transaction once the seq is known."""

from __future__ import annotations

import base64
import binascii
import enum
from datetime import UTC, datetime
from typing import Any

from dateline.errors import BadRequest
from dateline.model import Blog, Event, EventType, Poll, Post, PostStatus, shown_fields
from dateline.newsroom import urls
from dateline.render import rfc3339

_POST_FIELDS = shown_fields(Post)
_BLOG_FIELDS = shown_fields(Blog)
# How the contract names fields whose Python name differs.
_POST_NAMES = {"blog_slug": "blog"}


def to_json(value: Any) -> Any:
    """A field's value as the contract's JSON writes it."""
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    method = getattr(value, "to_json", None)
    if method is not None:
        return method()
    return value


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
    data = {_POST_NAMES.get(name, name): to_json(getattr(post, name)) for name in _POST_FIELDS}
    data["url"] = urls.post_path(post.blog_slug, post.id)
    data["poll"] = poll_json(post.blog_slug, post.poll) if post.poll is not None else None
    return data


def poll_json(slug: str, poll: Poll, now: datetime | None = None) -> dict[str, Any]:
    """`{"id", "question", "options": [{"text", "votes", "percent"}], "total_votes",
    "closes_at", "closed", "vote_url"}`. Whether it has closed is read from the clock: a page
    cached before the closing time is replaced within a second or two by the final results
    event (which moves the blog's seq, and so every cached answer)."""
    total = poll.total_votes
    return {
        "id": poll.id,
        "question": poll.question,
        "options": [
            {
                "text": o.text,
                "votes": o.votes,
                "percent": round(100 * o.votes / total, 1) if total else 0.0,
            }
            for o in poll.options
        ],
        "total_votes": total,
        "closes_at": rfc3339(poll.closes_at),
        "closed": poll.closed(now or datetime.now(UTC)),
        "vote_url": urls.poll_vote_path(slug, poll.id),
    }


def blog_json(blog: Blog) -> dict[str, Any]:
    data = {name: to_json(getattr(blog, name)) for name in _BLOG_FIELDS}
    data["url"] = urls.blog_path(blog.slug)
    return data


def event_payload(type_: EventType, blog: Blog, post: Post | None) -> dict[str, Any]:
    """What an event carries besides its seq, type and time: the post or the blog as it now is
    (a poll's results: the poll alone)."""
    if type_ is EventType.POLL_RESULTS and post is not None and post.poll is not None:
        return {"poll": poll_json(post.blog_slug, post.poll)}
    if post is not None:
        return {"post": post_json(post)}
    return {"blog": blog_json(blog)}


def event_json(event: Event) -> dict[str, Any]:
    """`{"seq", "type", "post_id", "post" | "blog", "at"}`: the SSE `data:` and the delta items."""
    return {
        "seq": event.seq,
        "type": event.type.value,
        "post_id": event.post_id,
        **event.payload,
        "at": rfc3339(event.at),
    }


def media_json(upload: dict[str, Any], prefix: str) -> dict[str, Any]:
    """An uploaded image's record as `POST /api/v1/media` answers it. An animated upload's
    `url` and `srcset` are animated WebP; `poster` and `poster_srcset` its first frame, a still
    (both null for a still)."""
    variants = upload["variants"]
    poster = upload.get("poster") if upload.get("animated") else None

    def srcset(sizes: list[dict[str, Any]]) -> str:
        return ", ".join(f"{prefix}{v['name']} {v['width']}w" for v in sizes)

    return {
        "key": upload["key"],
        "url": prefix + variants[-1]["name"],
        "srcset": srcset(variants),
        "content_type": upload["content_type"],
        "width": upload["width"],
        "height": upload["height"],
        "alt": upload["alt"],
        "caption": upload["caption"],
        "credit": upload["credit"],
        "variants": variants,
        "animated": poster is not None,
        "poster": prefix + poster["variants"][-1]["name"] if poster else None,
        "poster_srcset": srcset(poster["variants"]) if poster else None,
    }


# -- cursors: where the next page of posts starts ------------------------------------------------


def encode_cursor(keyset: tuple[datetime, str] | None) -> str | None:
    if keyset is None:
        return None
    when, public_id = keyset
    raw = f"{when.astimezone(UTC).isoformat()}|{public_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """The keyset a `next_cursor` names; a cursor this server did not give out is a 400."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, public_id = raw.split("|", 1)
        moment = datetime.fromisoformat(when)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest(
            "cursor is not one this server gave out; use the next_cursor of a previous page",
            field="cursor",
        ) from exc
    if moment.tzinfo is None:
        raise BadRequest("cursor is malformed", field="cursor")
    return moment, public_id
