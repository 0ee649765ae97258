"""What a writer may send: validated input for the newsroom's use cases (API, CLI and console).

Limits are generous for real reporting and small enough that one request cannot bloat a page read
by millions. Text fields are plain text (escaped when shown); `body` and `summary` are Markdown."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from dateline.errors import Invalid
from dateline.render import zone

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")
# First path segments the app itself uses; a blog may not take them.
RESERVED_SLUGS = frozenset(
    {"api", "newsroom", "static", "media", "healthz", "login", "logout", "embed", "assets", "admin"}
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control_chars(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


_Plain = AfterValidator(_no_control_chars)
# The same rule, as the API's schema states it.
_NO_CONTROL = Field(json_schema_extra={"pattern": r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"})
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), _Plain, _NO_CONTROL
]
Label = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200), _Plain, _NO_CONTROL
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=300), _Plain, _NO_CONTROL
]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), _Plain, _NO_CONTROL
]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2000), _Plain, _NO_CONTROL
]
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), _Plain, _NO_CONTROL
]
Markdown = Annotated[
    str, StringConstraints(max_length=50_000), AfterValidator(_no_control_chars), _NO_CONTROL
]


_EARLIEST = 1900
_LEEWAY = timedelta(minutes=5)  # clocks differ a little between a newsroom and its server


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("must be an RFC 3339 time with an offset, such as 2023-03-20T18:57:00Z")
    # Check the year before converting: year 1 at +14:00 has no UTC equivalent.
    if value.year <= _EARLIEST:
        raise ValueError(f"must be after {_EARLIEST}")
    if value.astimezone(UTC) > datetime.now(UTC) + _LEEWAY:
        raise ValueError("must not be in the future; a post is published when it is sent")
    return value


def _rfc3339(value: Any) -> Any:
    """A time is sent as RFC 3339 text; a number (seconds since 1970?) is refused, not guessed."""
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 time such as 2023-03-20T18:57:00Z, as text")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            "must be an RFC 3339 time such as 2023-03-20T18:57:00Z or 2023-03-20T14:57:00-04:00"
        ) from None


def check_past_time(name: str, value: datetime) -> None:
    """The rule of `AwareTime`, for a time that comes from a file rather than a request."""
    try:
        _aware(value)
    except ValueError as exc:
        raise Invalid(f"{name}: {exc}", field=name) from None


def check_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None:
        raise Invalid(f"{name}: must be a time with an offset", field=name)


def check_text(name: str, value: str, max_length: int) -> None:
    """The rule of the plain-text fields (`LongText` and the like), for text from a file."""
    if len(value) > max_length:
        raise Invalid(f"{name}: must be at most {max_length} characters", field=name)
    if _CONTROL.search(value):
        raise Invalid(f"{name}: must not contain control characters", field=name)


_Time = BeforeValidator(_rfc3339)
AwareTime = Annotated[datetime | None, _Time, AfterValidator(_aware)]

_HORIZON = timedelta(days=366)


def _future(value: datetime | None) -> datetime | None:
    """A scheduled time: aware, and between a minute ago and a year ahead."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("must be an RFC 3339 time with an offset, such as 2023-03-20T18:57:00Z")
    if value.year <= _EARLIEST:
        raise ValueError(f"must be after {_EARLIEST}")
    now = datetime.now(UTC)
    if value.astimezone(UTC) < now - timedelta(minutes=1):
        raise ValueError("is in the past; publish now instead, or pick a later time")
    if value.astimezone(UTC) > now + _HORIZON:
        raise ValueError("is more than a year ahead")
    return value


ScheduleTime = Annotated[datetime | None, _Time, AfterValidator(_future)]
Status = Literal["draft", "submitted", "scheduled", "published"]


class _Strict(BaseModel):
    # Strict types: `"pinned": 1` or `"limit": "5"` is an error, not a guess.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, strict=True)


class PersonIn(_Strict):
    name: Name


class BylineIn(_Strict):
    people: list[PersonIn] = Field(default_factory=list, max_length=20)
    location: Label | None = None


class MediaIn(_Strict):
    url: LongText | None = None
    alt: LongText
    caption: LongText
    credit: ShortText
    width: int | None = Field(default=None, ge=1, le=20_000)
    height: int | None = Field(default=None, ge=1, le=20_000)

    @field_validator("url")
    @classmethod
    def _safe_url(cls, value: str | None) -> str | None:
        if value and not (value.startswith(("https://", "http://")) or value.startswith("/media/")):
            raise ValueError("must be an http(s) URL or a /media/ path from an upload")
        return value or None


Required = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    _Plain,
    _NO_CONTROL,
]


class MediaUpload(_Strict):
    """What an uploaded image must come with: readers need all three (the seed has them all)."""

    alt: Required
    caption: Required
    credit: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), _Plain
    ]


class TokenCreate(_Strict):
    label: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), _Plain
    ]


PollText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), _Plain, _NO_CONTROL
]
Question = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), _Plain, _NO_CONTROL
]
PollOptions = Annotated[list[PollText], Field(min_length=2, max_length=6)]
_POLL_HORIZON = timedelta(days=366)


def _closing(value: datetime | None) -> datetime | None:
    """A poll's closing time: aware, ahead of now (a minute at least), within a year."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("must be an RFC 3339 time with an offset, such as 2023-03-20T18:57:00Z")
    if value.year <= _EARLIEST:
        raise ValueError(f"must be after {_EARLIEST}")
    now = datetime.now(UTC)
    if value.astimezone(UTC) < now + timedelta(minutes=1):
        raise ValueError("must be at least a minute ahead; to close a poll now, send close: true")
    if value.astimezone(UTC) > now + _POLL_HORIZON:
        raise ValueError("is more than a year ahead")
    return value


ClosingTime = Annotated[datetime | None, _Time, AfterValidator(_closing)]


def _distinct(options: list[str] | None) -> list[str] | None:
    if options is not None and len({o.casefold() for o in options}) != len(options):
        raise ValueError("options: each option must differ from the others")
    return options


class PollCreate(_Strict):
    """A poll added to a post: its question, 2 to 6 options and when it stops taking votes."""

    question: Question
    options: PollOptions
    closes_at: ClosingTime

    @model_validator(mode="after")
    def _valid(self) -> PollCreate:
        _distinct(self.options)
        if self.closes_at is None:
            raise ValueError("closes_at: a poll needs closes_at, the time it stops taking votes")
        return self


class PollPatch(_Strict):
    """A change to a post's poll: any of its fields (a post without a poll needs all three), or
    `close: true` to close it now. Once it has votes only its closing time may change."""

    question: Question | None = None
    options: PollOptions | None = None
    closes_at: ClosingTime = None
    close: Literal[True] | None = None

    @model_validator(mode="after")
    def _valid(self) -> PollPatch:
        _distinct(self.options)
        if self.close and self.closes_at is not None:
            raise ValueError("close: send close or closes_at, not both")
        return self


class PostCreate(_Strict):
    headline: ShortText = ""
    body: Markdown = ""
    byline: BylineIn = Field(default_factory=BylineIn)
    contributors: list[Name] | None = Field(default=None, max_length=20)
    media: list[MediaIn] = Field(default_factory=list, max_length=20)
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    pinned: bool = False
    key_event: bool = False
    # Send the blog's followers a web push notification when the post goes out (editors only);
    # unset: key events notify, other posts do not.
    notify: bool | None = None
    status: Status | None = None
    published_at: AwareTime = None
    publish_at: ScheduleTime = None
    poll: PollCreate | None = None

    @model_validator(mode="after")
    def _schedule(self) -> PostCreate:
        if self.status == "scheduled" and self.publish_at is None:
            raise ValueError("publish_at: a scheduled post needs publish_at, the time it goes out")
        if self.publish_at is not None and self.status != "scheduled":
            raise ValueError("publish_at: only a post with status 'scheduled' takes publish_at")
        return self


class PostPatch(_Strict):
    """Only the fields present are changed; `correction` is the note readers see with the edit."""

    headline: ShortText | None = None
    body: Markdown | None = None
    byline: BylineIn | None = None
    contributors: list[Name] | None = Field(default=None, max_length=20)
    media: list[MediaIn] | None = Field(default=None, max_length=20)
    tags: list[Tag] | None = Field(default=None, max_length=20)
    pinned: bool | None = None
    key_event: bool | None = None
    # Whether followers are notified when the post goes out (it has no effect once it is out).
    notify: bool | None = None
    status: Status | None = None
    published_at: AwareTime = None
    publish_at: ScheduleTime = None
    correction: LongText | None = None
    # An editor's comment when sending a submitted post back (status 'draft').
    review_note: LongText | None = None
    # Copy revision N's content into a new revision (the history itself is never rewritten).
    restore_revision: int | None = Field(default=None, ge=1)
    # The revision this edit started from: if the post has moved on since, the edit is refused
    # (409, with the current version) instead of silently undoing someone else's change.
    base_revision: int | None = Field(default=None, ge=1)
    # Add or change the post's poll; null removes it (only while it has no votes).
    poll: PollPatch | None = None


class PostDelete(_Strict):
    reason: LongText | None = None


def _valid_timezone(value: str) -> str:
    zone(value)
    return value


Timezone = Annotated[
    str,
    AfterValidator(_valid_timezone),
    Field(json_schema_extra={"enum": sorted(available_timezones())}),
]


class BlogCreate(_Strict):
    # The rules are checked below (with messages that say how to fix a slug); the schema states
    # them for API clients.
    slug: Annotated[
        str,
        Field(
            json_schema_extra={
                "pattern": SLUG_RE.pattern,
                "minLength": 1,
                "maxLength": 100,
                "not": {"enum": sorted(RESERVED_SLUGS)},
            }
        ),
    ]
    title: Title
    summary: Markdown = ""
    organisation: Label = ""
    authors: list[PersonIn] = Field(default_factory=list, max_length=50)
    timezone: Timezone = "UTC"
    status: Literal["draft", "live", "ended"] = "live"

    @field_validator("slug")
    @classmethod
    def _valid_slug(cls, value: str) -> str:
        if not SLUG_RE.match(value):
            raise ValueError(
                "must be 1-100 lowercase letters, digits and hyphens, such as 'xi-putin-moscow'"
            )
        if value in RESERVED_SLUGS:
            raise ValueError(f"{value!r} is reserved; choose another slug")
        return value


# -- the score box ------------------------------------------------------------------------------

# Seats and votes can run high; a score past this is a typing slip.
MAX_SCORE = 999_999_999
# The most one click (or one API call) may add or take away.
MAX_STEP = 1000
SideName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), _Plain, _NO_CONTROL
]
ScoreStatus = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200), _Plain, _NO_CONTROL
]


class SideIn(_Strict):
    name: SideName
    # Left out: the side keeps the score it has (0 in a new box), so renaming a team never
    # undoes a goal counted meanwhile.
    score: int | None = Field(default=None, ge=0, le=MAX_SCORE)


class ScoreIn(_Strict):
    """The whole score box, set with `PATCH /api/v1/blogs/{slug}` `{"score": {…}}` (or
    `"score": null` to take it down). Fields left out keep their current values."""

    kind: Literal["sport", "election", "other"] | None = None
    status: ScoreStatus | None = None
    sides: list[SideIn] = Field(min_length=2, max_length=2)


class ScoreChange(_Strict):
    """One click: `{"side": 0, "by": 1}` (a goal for the first side), `{"side": 1, "by": -1}`
    (a correction), `{"status": "2nd half 67'"}`, or a side and a status at once."""

    side: int | None = Field(default=None, ge=0, le=1)
    by: int = Field(default=1, ge=-MAX_STEP, le=MAX_STEP)
    status: ScoreStatus | None = None

    @model_validator(mode="after")
    def _something(self) -> ScoreChange:
        if self.side is None and "by" in self.model_fields_set:
            raise ValueError("side: say which side (0 or 1) the change is for")
        if self.side is None and self.status is None:
            raise ValueError('side: send {"side": 0 or 1, "by": 1} or {"status": "…"}')
        if self.by == 0:
            raise ValueError("by: must not be 0; send 1 to add a point, -1 to take one off")
        return self


class BlogPatch(_Strict):
    title: Title | None = None
    summary: Markdown | None = None
    organisation: Label | None = None
    authors: list[PersonIn] | None = Field(default=None, max_length=50)
    timezone: Timezone | None = None
    status: Literal["draft", "live", "ended"] | None = None
    # The live score box; null takes it down (a field absent leaves it as it is).
    score: ScoreIn | None = None


class WebhookCreate(_Strict):
    # https://… (or http:// to a host in webhook_allowed_hosts); newsroom/webhooks.py checks
    # where it points.
    url: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), _Plain
    ]


class WebhookPatch(_Strict):
    # "paused" stops deliveries; "active" resumes them from where they stopped.
    state: Literal["active", "paused"]


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    """Validate `data`, turning the first problem into an Invalid error that names the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "value_error" and not first["loc"]:
            # A rule across fields names its field itself: "publish_at: …".
            where, _, message = message.partition(": ")
            raise Invalid(f"{where}: {message}", field=where) from None
        if first["type"] == "extra_forbidden":
            message = "is not a field of this request"
        raise Invalid(f"{where}: {message}", field=where) from None
