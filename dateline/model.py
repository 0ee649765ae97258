"""The domain: plain dataclasses, no I/O.

Times are always timezone-aware UTC datetimes; the blog's zone is only used when showing them.

Field lists are declared here once: the store's row codecs and the readers' JSON shapes are derived
from these dataclasses. A field marked `internal()` is stored but never shown to readers; a field
marked `content()` is part of a post's text, kept in every revision.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

_INTERNAL = "internal"
_CONTENT = "content"


def internal(default: Any = None) -> Any:
    """A field the store keeps and readers never see (JSON shapes leave it out)."""
    return field(default=default, metadata={_INTERNAL: True})


def content(**kwargs: Any) -> Any:
    """A field of a post's text: saved in each revision, restored with it."""
    return field(metadata={_CONTENT: True}, **kwargs)


def shown_fields(cls: type) -> tuple[str, ...]:
    """The names of `cls`'s fields that readers may see, in declaration order."""
    return tuple(f.name for f in fields(cls) if not f.metadata.get(_INTERNAL))


def content_fields(cls: type) -> tuple[str, ...]:
    """The names of `cls`'s fields that hold a post's text."""
    return tuple(f.name for f in fields(cls) if f.metadata.get(_CONTENT))


class BlogStatus(enum.StrEnum):
    DRAFT = "draft"
    LIVE = "live"
    ENDED = "ended"


class PostStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    DELETED = "deleted"


class Role(enum.StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    CONTRIBUTOR = "contributor"


class EventType(enum.StrEnum):
    """The stable names of reader-visible changes; consumers dispatch on these."""

    POST_PUBLISHED = "post.published"
    POST_UPDATED = "post.updated"
    POST_DELETED = "post.deleted"
    POST_PINNED = "post.pinned"
    POST_UNPINNED = "post.unpinned"
    POST_KEY_EVENT = "post.key_event"
    POST_KEY_EVENT_CLEARED = "post.key_event_cleared"
    BLOG_UPDATED = "blog.updated"
    BLOG_ENDED = "blog.ended"
    # A poll's counts moved (at most one per poll per second), or the poll closed: its results.
    POLL_RESULTS = "poll.results"


@dataclass(frozen=True, slots=True)
class Person:
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Person:
        return cls(str(data["name"]))


@dataclass(frozen=True, slots=True)
class Byline:
    """ "From CNN's Maria Kostenko in Kyiv": the people and an optional location."""

    people: tuple[Person, ...] = ()
    location: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"people": [p.to_json() for p in self.people], "location": self.location}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Byline:
        if not data:
            return cls()
        people = tuple(Person(str(p["name"])) for p in data.get("people") or ())
        return cls(people=people, location=data.get("location") or None)


@dataclass(frozen=True, slots=True)
class Media:
    """An image shown in a post. `url` is None for an image known only by its caption
    (imported dumps carry captions and credits but no files)."""

    alt: str
    caption: str
    credit: str
    url: str | None = None
    width: int | None = None
    height: int | None = None
    srcset: str | None = None  # width variants of an upload, made by the server

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "alt": self.alt,
            "caption": self.caption,
            "credit": self.credit,
            "width": self.width,
            "height": self.height,
            "srcset": self.srcset,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Media:
        return cls(
            alt=str(data.get("alt") or ""),
            caption=str(data.get("caption") or ""),
            credit=str(data.get("credit") or ""),
            url=data.get("url") or None,
            width=data.get("width"),
            height=data.get("height"),
            srcset=data.get("srcset") or None,
        )


@dataclass(frozen=True, slots=True)
class PollOption:
    text: str
    votes: int = 0


@dataclass(frozen=True, slots=True)
class Poll:
    """A question with 2-6 options attached to a post; readers vote until `closes_at`.
    `options` carry the counts as the store read them (exact at that moment)."""

    id: str
    question: str
    options: tuple[PollOption, ...]
    closes_at: datetime
    created_at: datetime | None = None

    @property
    def total_votes(self) -> int:
        return sum(o.votes for o in self.options)

    def closed(self, now: datetime) -> bool:
        return self.closes_at <= now


@dataclass(slots=True)
class Blog:
    slug: str
    title: str
    timezone: str
    id: int | None = internal()
    summary: str = ""
    organisation: str = ""
    authors: list[Person] = field(default_factory=list)
    status: BlogStatus = BlogStatus.LIVE
    coverage_start: datetime | None = None
    coverage_end: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_seq: int = 0
    post_count: int = 0


@dataclass(slots=True)
class Post:
    blog_slug: str
    id: str = ""
    headline: str = content(default="")
    body: str = content(default="")
    body_html: str = ""
    byline: Byline = content(default_factory=Byline)
    contributors: list[str] | None = content(default=None)
    media: list[Media] = content(default_factory=list)
    tags: list[str] = field(default_factory=list)
    pinned: bool = False
    key_event: bool = False
    status: PostStatus = PostStatus.DRAFT
    published_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    revision: int = 1
    correction: str | None = None
    seq: int | None = None
    author_id: int | None = internal()
    delete_reason: str | None = internal()
    publish_at: datetime | None = None  # when a scheduled post goes out
    review_note: str | None = internal()  # an editor's comment when sending a post back
    poll: Poll | None = None  # kept in the polls table (store/polls.py), not in the post's row

    @property
    def visible(self) -> bool:
        return self.status is PostStatus.PUBLISHED


@dataclass(frozen=True, slots=True)
class Revision:
    """A saved version of a post's content; restoring one copies it into a new revision."""

    post_id: str
    number: int
    user_id: int | None
    created_at: datetime
    headline: str = content()
    body: str = content()
    note: str | None = None
    byline: Byline = content(default_factory=Byline)
    contributors: list[str] | None = content(default=None)
    media: list[Media] = content(default_factory=list)
    user_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "created_at": self.created_at.isoformat(),
            "by": self.user_name,
            "headline": self.headline,
            "body": self.body,
            "byline": self.byline.to_json(),
            "contributors": self.contributors,
            "media": [m.to_json() for m in self.media],
            "note": self.note,
        }


@dataclass(slots=True)
class User:
    email: str
    name: str
    role: Role
    id: int | None = None
    password_hash: str | None = internal()
    created_at: datetime | None = None
    deactivated_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.deactivated_at is None


@dataclass(frozen=True, slots=True)
class Event:
    """One row of a blog's event log. `payload` is the JSON readers receive, built when the
    change was written, so serving an event never re-renders anything."""

    blog_id: int
    seq: int
    type: EventType
    post_id: str | None
    payload: dict[str, Any]
    at: datetime
