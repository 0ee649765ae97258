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
    BLOG_SCORE = "blog.score"  # the score box changed, and nothing else
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
    # An animated upload's first frame as a still, for readers who ask for reduced motion: the
    # full size and its width variants (the same widths as `srcset`'s). None for a still.
    poster: str | None = None
    poster_srcset: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "alt": self.alt,
            "caption": self.caption,
            "credit": self.credit,
            "width": self.width,
            "height": self.height,
            "srcset": self.srcset,
            "poster": self.poster,
            "poster_srcset": self.poster_srcset,
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
            poster=data.get("poster") or None,
            poster_srcset=data.get("poster_srcset") or None,
        )


class EmbedState(enum.StrEnum):
    PENDING = "pending"  # not fetched yet (or the provider was down): shown as a link card
    READY = "ready"  # the provider's snapshot is stored
    FAILED = "failed"  # the provider refused or never answered: a link card for good


@dataclass(frozen=True, slots=True)
class Embed:
    """A post or video from elsewhere, pasted as a URL alone on a line of a post's body.

    The snapshot (who, what, when, a thumbnail copied into Dateline's media) is kept with the
    post, so the post still tells its story when the original is deleted; `frame` is the
    provider's privacy-enhanced player or post frame, loaded only when a reader asks for it."""

    url: str
    provider: str  # "YouTube", "X", "Mastodon", or the site's name for a plain web page
    state: EmbedState = EmbedState.PENDING
    kind: str = "link"  # oEmbed's types: video, rich, photo, link
    title: str = ""
    author: str = ""
    author_url: str | None = None
    text: str = ""  # the words of a social post, as plain text
    published: str | None = None  # the original's time, as the provider gave it (RFC 3339)
    thumbnail: str | None = None  # a /media/ path in Dateline's own store
    thumbnail_width: int | None = None
    thumbnail_height: int | None = None
    frame: str | None = None  # the https:// frame loaded on a reader's click
    frame_width: int | None = None
    frame_height: int | None = None
    fetched_at: str | None = None  # when the snapshot was taken (RFC 3339)
    attempts: int = 0  # fetches tried while pending

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "provider": self.provider,
            "state": self.state.value,
            "kind": self.kind,
            "title": self.title,
            "author": self.author,
            "author_url": self.author_url,
            "text": self.text,
            "published": self.published,
            "thumbnail": self.thumbnail,
            "thumbnail_width": self.thumbnail_width,
            "thumbnail_height": self.thumbnail_height,
            "frame": self.frame,
            "frame_width": self.frame_width,
            "frame_height": self.frame_height,
            "fetched_at": self.fetched_at,
            "attempts": self.attempts,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Embed:
        def number(name: str) -> int | None:
            value = data.get(name)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        def text(name: str) -> str:
            value = data.get(name)
            return value if isinstance(value, str) else ""

        return cls(
            url=str(data["url"]),
            provider=text("provider"),
            state=EmbedState(data.get("state") or "pending"),
            kind=text("kind") or "link",
            title=text("title"),
            author=text("author"),
            author_url=text("author_url") or None,
            text=text("text"),
            published=text("published") or None,
            thumbnail=text("thumbnail") or None,
            thumbnail_width=number("thumbnail_width"),
            thumbnail_height=number("thumbnail_height"),
            frame=text("frame") or None,
            frame_width=number("frame_width"),
            frame_height=number("frame_height"),
            fetched_at=text("fetched_at") or None,
            attempts=number("attempts") or 0,
        )


class ScoreKind(enum.StrEnum):
    """What a score box counts; search engines are told of a match (schema.org SportsEvent)."""

    SPORT = "sport"  # a match: the first side is the home team, the second the away team
    ELECTION = "election"  # seats or votes; schema.org has nowhere to put them
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a score box: a team, a party, a candidate."""

    name: str
    score: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "score": self.score}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Side:
        return cls(str(data["name"]), int(data.get("score") or 0))


@dataclass(frozen=True, slots=True)
class Score:
    """The live score box at the top of a blog: two sides, their scores and a status line
    ("2nd half 67'", "Polls close in 2 hours")."""

    sides: tuple[Side, Side]
    status: str = ""
    kind: ScoreKind = ScoreKind.SPORT

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "status": self.status,
            "sides": [s.to_json() for s in self.sides],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Score:
        home, away = (Side.from_json(s) for s in data["sides"])
        return cls(
            sides=(home, away),
            status=str(data.get("status") or ""),
            kind=ScoreKind(data.get("kind") or ScoreKind.SPORT),
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
    score: Score | None = None  # the live score box, if the blog has one


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
    # Derived from the body's URLs alone on a line (not a revision's content: restoring a body
    # brings its embeds back, from the snapshots kept or fetched again).
    embeds: list[Embed] = field(default_factory=list)
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
    embeds_due: datetime | None = internal()  # when pending embeds are fetched (again)
    # Where a post from outside came from ("telegram:UPDATE_ID"), unique: a message redelivered
    # after its handler died makes no second post, whenever it died.
    origin: str | None = internal()
    poll: Poll | None = None  # kept in the polls table (store/polls.py), not in the post's row
    notify: bool = internal(default=False)  # followers get a web push when it goes out

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


class WebhookState(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


@dataclass(slots=True)
class Webhook:
    """A URL that receives every event of one blog's log, signed, in seq order, at least once.
    `cursor` is the last seq it answered 2xx to; `failing_since` the first failure since then."""

    blog_id: int
    url: str
    secret: str = internal("")
    state: WebhookState = WebhookState.ACTIVE
    cursor: int = 0
    attempts: int = 0
    next_attempt_at: datetime | None = None
    failing_since: datetime | None = None
    last_error: str | None = None
    paused_reason: str | None = None
    created_at: datetime | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt to deliver one event to a webhook: its HTTP status (None: no answer)."""

    seq: int
    at: datetime
    status: int | None
    ok: bool
    duration_ms: int
    error: str | None = None
