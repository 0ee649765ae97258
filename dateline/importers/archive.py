"""Dateline's own archive format, `dateline-archive/1`: one blog, whole, for moving it between
stores (SQLite ↔ PostgreSQL, one instance to another) and for keeping it. docs/archive.md
describes it field by field; this module defines it and reads it.

An archive is a gzip'd tar (or a folder with the same files):

    archive.json        the header: format, the blog, members by email, uploads, the list of
                        files with their sizes and sha256 checksums
    media/NAME          each image file the posts use, named by its content (sha256)
    posts.jsonl         one post per line, in every status, with all its revisions
    events.jsonl        the blog's event log: seq, type, post, time (no payloads)

Reading is suspicious from the first byte: every member is named, sized and checksummed in the
header, nothing else may be in the tar (no links, no paths outside these), sizes are bounded
before anything is decompressed past them, and a truncated or damaged file is refused. The whole
archive is checked into a private folder before the newsroom writes anything; records are then
read from there one line at a time (an archive of 100,000 posts is never held in memory).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dateline.errors import ImportFailed

FORMAT = "dateline-archive/1"
HEADER = "archive.json"
POSTS = "posts.jsonl"
EVENTS = "events.jsonl"
MEDIA = "media/"
# A media file is named by the first 32 hex digits of its content's sha256.
MEDIA_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp)$")

MAX_HEADER_BYTES = 64 * 1024 * 1024
MAX_LINE_BYTES = 8 * 1024 * 1024
MAX_MEDIA_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 32 * 1024 * 1024 * 1024


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PersonRecord(_Record):
    name: str


class BylineRecord(_Record):
    people: list[PersonRecord] = Field(default_factory=list)
    location: str | None = None


class MediaRecord(_Record):
    url: str | None = None
    alt: str
    caption: str
    credit: str
    width: int | None = None
    height: int | None = None
    srcset: str | None = None
    poster: str | None = None
    poster_srcset: str | None = None


class EmbedRecord(_Record):
    """An embed's snapshot (model.Embed's JSON); its frame is checked against its provider's
    when the archive is restored."""

    url: Annotated[str, Field(pattern=r"^https?://", max_length=2000)]
    provider: Annotated[str, Field(max_length=100)]
    state: Literal["pending", "ready", "failed"]
    kind: Literal["video", "rich", "photo", "link"]
    title: Annotated[str, Field(max_length=300)]
    author: Annotated[str, Field(max_length=200)]
    author_url: Annotated[str, Field(pattern=r"^https?://", max_length=2000)] | None
    text: Annotated[str, Field(max_length=2000)]
    published: Annotated[str, Field(max_length=40)] | None
    thumbnail: str | None
    thumbnail_width: Annotated[int, Field(ge=1, le=20_000)] | None
    thumbnail_height: Annotated[int, Field(ge=1, le=20_000)] | None
    frame: Annotated[str, Field(pattern=r"^https://", max_length=2000)] | None
    frame_width: Annotated[int, Field(ge=1, le=10_000)] | None
    frame_height: Annotated[int, Field(ge=1, le=10_000)] | None
    fetched_at: Annotated[str, Field(max_length=40)] | None
    attempts: Annotated[int, Field(ge=0, le=1000)]


class PollOptionRecord(_Record):
    text: Annotated[str, Field(min_length=1, max_length=200)]
    votes: Annotated[int, Field(ge=0, le=100_000_000)]


class PollRecord(_Record):
    id: Annotated[str, Field(pattern=r"^[a-z0-9]{1,32}$")]
    question: Annotated[str, Field(min_length=1, max_length=300)]
    options: list[PollOptionRecord] = Field(min_length=2, max_length=6)
    closes_at: datetime
    created_at: datetime | None


class BlogRecord(_Record):
    slug: str
    title: str
    summary: str
    organisation: str
    authors: list[PersonRecord]
    timezone: str
    status: Literal["draft", "live", "ended"]
    coverage_start: datetime | None
    coverage_end: datetime | None
    created_at: datetime
    updated_at: datetime
    last_seq: int = Field(ge=0)
    post_count: int = Field(ge=0)
    # The score box (checked by the API's rules on restoring); absent from older archives.
    score: dict[str, Any] | None = None


class PersonAccount(_Record):
    """Someone the blog names by email: a member, an author, a writer of a revision or the
    uploader of an image."""

    email: str = Field(max_length=320)
    name: str = Field(max_length=200)
    role: Literal["admin", "editor", "contributor"]
    member: bool


class VariantRecord(_Record):
    name: str
    width: int = Field(ge=1, le=100_000)
    height: int = Field(ge=1, le=100_000)


class PosterRecord(_Record):
    content_type: Literal["image/jpeg", "image/png"]
    variants: list[VariantRecord] = Field(min_length=1, max_length=20)


class UploadRecord(_Record):
    key: str
    content_type: Literal["image/jpeg", "image/png", "image/webp"]
    width: int = Field(ge=1, le=100_000)
    height: int = Field(ge=1, le=100_000)
    variants: list[VariantRecord] = Field(min_length=1, max_length=20)
    # Archives made before animated uploads have neither.
    animated: bool = False
    poster: PosterRecord | None = None
    alt: str
    caption: str
    credit: str
    uploaded_by: str | None
    created_at: datetime


class FileRecord(_Record):
    name: str
    size: int = Field(ge=0)
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Header(_Record):
    format: str
    generator: str
    exported_at: datetime
    blog: BlogRecord
    people: list[PersonAccount]
    uploads: list[UploadRecord]
    files: list[FileRecord]
    posts: int = Field(ge=0)
    events: int = Field(ge=0)


class RevisionRecord(_Record):
    number: int = Field(ge=1)
    created_at: datetime
    by: str | None
    headline: str
    body: str
    byline: BylineRecord
    contributors: list[str] | None
    media: list[MediaRecord]
    note: str | None


class PostRecord(_Record):
    id: Annotated[str, Field(pattern=r"^[a-z0-9]{1,32}$")]
    headline: str
    body: str
    byline: BylineRecord
    contributors: list[str] | None
    media: list[MediaRecord]
    tags: list[str]
    pinned: bool
    key_event: bool
    status: Literal["draft", "submitted", "scheduled", "published", "deleted"]
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    revision: int = Field(ge=1)
    correction: str | None
    seq: int | None
    author: str | None
    delete_reason: str | None
    publish_at: datetime | None
    review_note: str | None
    # Whether followers are notified when it goes out; absent from older archives.
    notify: bool = False
    revisions: list[RevisionRecord] = Field(min_length=1)
    embeds: list[EmbedRecord] = Field(default_factory=list, max_length=20)
    poll: PollRecord | None = None


class EventRecord(_Record):
    seq: int = Field(ge=1)
    type: str
    post_id: str | None
    at: datetime


def canonical(data: Any) -> bytes:
    """The one way a record is written: sorted keys, no spaces, UTF-8, so that the same blog
    exported twice gives the same bytes."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    return f"{where}: {first['msg']}"


class Archive:
    """An archive, checked whole into a private folder: `header`, then `posts()` and `events()`
    read one record at a time. Use as a context manager (the folder is removed at the end)."""

    def __init__(self, source: Path) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="dateline-archive-"))
        try:
            if source.is_dir():
                self._copy_folder(source)
            else:
                self._unpack(source)
            self.header = self._read_header()
            self._verify()
        except BaseException:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    @property
    def media_dir(self) -> Path:
        """The checked media files."""
        return self._tmp / "media"

    # -- unpacking ------------------------------------------------------------------------

    @staticmethod
    def _allowed(name: str) -> bool:
        if name in (HEADER, POSTS, EVENTS):
            return True
        return name.startswith(MEDIA) and bool(MEDIA_NAME.fullmatch(name.removeprefix(MEDIA)))

    @staticmethod
    def _limit(name: str) -> int:
        if name == HEADER:
            return MAX_HEADER_BYTES
        if name.startswith(MEDIA):
            return MAX_MEDIA_BYTES
        return MAX_TOTAL_BYTES

    def _unpack(self, source: Path) -> None:
        (self._tmp / "media").mkdir()
        total = 0
        seen: set[str] = set()
        try:
            with tarfile.open(source, mode="r|gz") as tar:
                for member in tar:
                    name = member.name.removeprefix("./")
                    if member.isdir() and name.rstrip("/") in ("", "media"):
                        continue
                    if not member.isfile() or not self._allowed(name):
                        raise ImportFailed(
                            f"the archive holds {member.name!r}, which is not part of a "
                            f"{FORMAT} archive (only {HEADER}, {POSTS}, {EVENTS} and "
                            "media/ files named by their checksum)"
                        )
                    if name in seen:
                        raise ImportFailed(f"the archive holds {name!r} twice")
                    seen.add(name)
                    if member.size > self._limit(name):
                        raise ImportFailed(f"{name} is too large ({member.size} bytes)")
                    total += member.size
                    if total > MAX_TOTAL_BYTES:
                        raise ImportFailed("the archive is too large to import")
                    stream = tar.extractfile(member)
                    assert stream is not None
                    with (self._tmp / name).open("wb") as out:
                        shutil.copyfileobj(stream, out, 1024 * 1024)
        except ImportFailed:
            raise
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise ImportFailed(
                f"{source.name} is not a readable {FORMAT} archive (a .tar.gz): it is truncated "
                f"or damaged ({exc})"
            ) from None

    def _copy_folder(self, source: Path) -> None:
        (self._tmp / "media").mkdir()
        for path in sorted(source.rglob("*")):
            name = path.relative_to(source).as_posix()
            if path.is_dir() and name == "media":
                continue
            if path.is_symlink() or not path.is_file() or not self._allowed(name):
                raise ImportFailed(
                    f"the folder holds {name!r}, which is not part of a {FORMAT} archive"
                )
            if path.stat().st_size > self._limit(name):
                raise ImportFailed(f"{name} is too large ({path.stat().st_size} bytes)")
            shutil.copyfile(path, self._tmp / name)

    # -- checking ---------------------------------------------------------------------------

    def _read_header(self) -> Header:
        path = self._tmp / HEADER
        if not path.is_file():
            raise ImportFailed(f"the archive has no {HEADER}; is it a {FORMAT} archive?")
        try:
            raw = json.loads(path.read_bytes())
        except (ValueError, RecursionError) as exc:
            raise ImportFailed(f"{HEADER} is not valid JSON ({exc})") from None
        if not isinstance(raw, dict) or "format" not in raw:
            raise ImportFailed(f'{HEADER} has no "format"; is it a {FORMAT} archive?')
        if raw["format"] != FORMAT:
            raise ImportFailed(
                f"the archive's format is {raw['format']!r}; this version of Dateline reads "
                f"{FORMAT!r}"
            )
        try:
            return Header.model_validate_json(path.read_bytes())
        except ValidationError as exc:
            raise ImportFailed(f"{HEADER}: {_problem(exc)}") from None

    def _verify(self) -> None:
        listed = {f.name: f for f in self.header.files}
        for name in listed:
            if not self._allowed(name) or name == HEADER:
                raise ImportFailed(f"{HEADER} lists {name!r}, which is not part of an archive")
        for name in (POSTS, EVENTS):
            if name not in listed:
                raise ImportFailed(f"{HEADER} does not list {name}")
        present = {
            p.relative_to(self._tmp).as_posix()
            for p in self._tmp.rglob("*")
            if p.is_file() and p.name != HEADER
        }
        for name in sorted(present - set(listed)):
            raise ImportFailed(f"the archive holds {name}, which {HEADER} does not list")
        for name, record in sorted(listed.items()):
            path = self._tmp / name
            if not path.is_file():
                raise ImportFailed(f"the archive is missing {name}, which {HEADER} lists")
            digest = hashlib.sha256()
            with path.open("rb") as f:
                while chunk := f.read(1024 * 1024):
                    digest.update(chunk)
            size = path.stat().st_size
            if size != record.size or digest.hexdigest() != record.sha256:
                raise ImportFailed(
                    f"{name} does not match its checksum in {HEADER} (damaged or altered)"
                )
            if name.startswith(MEDIA) and not name.removeprefix(MEDIA).startswith(
                record.sha256[:32]
            ):
                raise ImportFailed(f"{name} is not named by its content's checksum")

    # -- reading records ----------------------------------------------------------------------

    def _lines(self, name: str) -> Iterator[tuple[int, bytes]]:
        with (self._tmp / name).open("rb") as f:
            for number, line in enumerate(f, 1):
                if len(line) > MAX_LINE_BYTES:
                    raise ImportFailed(f"{name} line {number}: the record is too large")
                if line.strip():
                    yield number, line

    def posts(self) -> Iterator[tuple[int, PostRecord]]:
        """(line number, post), in the file's order."""
        count = 0
        for number, line in self._lines(POSTS):
            try:
                yield number, PostRecord.model_validate_json(line)
            except ValidationError as exc:
                raise ImportFailed(f"{POSTS} line {number}: {_problem(exc)}") from None
            count += 1
        if count != self.header.posts:
            raise ImportFailed(f"{POSTS} holds {count} posts; {HEADER} says {self.header.posts}")

    def events(self) -> Iterator[tuple[int, EventRecord]]:
        count = 0
        for number, line in self._lines(EVENTS):
            try:
                yield number, EventRecord.model_validate_json(line)
            except ValidationError as exc:
                raise ImportFailed(f"{EVENTS} line {number}: {_problem(exc)}") from None
            count += 1
        if count != self.header.events:
            raise ImportFailed(f"{EVENTS} holds {count} events; {HEADER} says {self.header.events}")


__all__ = [
    "EVENTS",
    "FORMAT",
    "HEADER",
    "MEDIA",
    "POSTS",
    "Archive",
    "EventRecord",
    "Header",
    "PostRecord",
    "canonical",
]
