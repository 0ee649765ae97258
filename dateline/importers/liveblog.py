"""The WordPress Liveblog plugin's entries as both of its inputs are read into (`wordpress.py`
reads the REST entries, `wxr.py` a WordPress export), and how an entry becomes a post with its
earlier versions (see `wordpress.py` for what is kept and lost)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from dateline.importers import ImportedPost
from dateline.importers.htmltext import Converted, html_to_markdown
from dateline.model import Blog, BlogStatus, Byline, Person, Post, PostStatus, Revision

MAX_MEDIA = 20  # the API's limits for one post
MAX_TAGS = 20
_MAX_TAG = 50  # characters in a tag
UNTITLED = "Imported live blog"
_DELETED = "deleted in WordPress"
LATEST_EPOCH = 253_402_300_799  # 9999-12-31T23:59:59Z


@dataclass
class Version:
    at: datetime
    html: str
    newlines: bool  # the plugin's stored or typed form: blank lines separate paragraphs
    author: str | None
    order: int  # place in the file, for versions written in the same second


@dataclass
class Entry:
    id: str
    where: str  # how messages name it
    order: int
    published_at: datetime | None = None
    versions: list[Version] = field(default_factory=list)
    # The text readers saw last when the source says so (WXR: the original comment, which each
    # edit overwrites); else the latest version.
    final: Version | None = None
    deleted_at: datetime | None = None
    authors: list[str] = field(default_factory=list)
    key_event: bool = False


@dataclass
class Header:
    title: str
    summary: str = ""
    organisation: str = ""
    authors: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    ended: bool = False


def _convert(version: Version) -> Converted:
    return html_to_markdown(version.html, newlines=version.newlines, take_headline=True)


def assemble(entry: Entry, slug: str, warnings: list[str]) -> ImportedPost | None:
    versions = sorted(entry.versions, key=lambda v: (v.at, v.order))
    final = entry.final or (versions[-1] if versions else None)
    if final is None:
        state = "was deleted and " if entry.deleted_at else ""
        warnings.append(f"{entry.where} {state}has no text in the file; skipped")
        return None
    earlier = [v for v in versions if v is not final]
    # A version counts where the text changed (the same response saved twice repeats entries);
    # the first version with a text stands for it.
    distinct: list[Version] = []
    for version in [*earlier, final]:
        if not distinct or distinct[-1].html != version.html:
            distinct.append(version)
    earlier = distinct[:-1]
    times = [v.at for v in versions] + [final.at]
    published = entry.published_at or min(times)
    updated = max(max(times), entry.deleted_at or published)
    byline = Byline(people=tuple(Person(n) for n in entry.authors))
    converted = _convert(final)
    media = converted.media
    if len(media) > MAX_MEDIA:
        warnings.append(f"{entry.where}: {len(media)} images; keeping the first {MAX_MEDIA}")
        media = media[:MAX_MEDIA]
    for dropped in sorted(set(converted.dropped)):
        warnings.append(f"{entry.where}: an embedded <{dropped}> was left out")
    post = Post(
        blog_slug=slug,
        headline=converted.headline,
        body=converted.markdown,
        byline=byline,
        media=media,
        tags=[t for t in converted.tags if len(t) <= _MAX_TAG][:MAX_TAGS],
        key_event=entry.key_event or "key" in converted.commands,
        status=PostStatus.DELETED if entry.deleted_at else PostStatus.PUBLISHED,
        published_at=published,
        created_at=published,
        updated_at=updated,
        delete_reason=_DELETED if entry.deleted_at else None,
    )
    revisions = []
    for version in earlier:
        old = _convert(version)
        revisions.append(
            Revision(
                post_id="",
                number=0,
                user_id=None,
                created_at=version.at,
                headline=old.headline,
                body=old.markdown,
                byline=byline,
                media=old.media[:MAX_MEDIA],
                user_name=version.author,
            )
        )
    return ImportedPost(post=post, earlier=revisions)


def blog_of(header: Header, posts: list[ImportedPost], slug: str, tz_name: str) -> Blog:
    first = min(p.post.published_at for p in posts if p.post.published_at)
    last = max(p.post.updated_at for p in posts if p.post.updated_at)
    start = header.created_at or first
    updated = header.updated_at or last
    return Blog(
        slug=slug,
        title=header.title,
        summary=header.summary,
        timezone=tz_name,
        organisation=header.organisation,
        authors=[Person(n) for n in header.authors],
        status=BlogStatus.ENDED if header.ended else BlogStatus.LIVE,
        coverage_start=start,
        coverage_end=updated if header.ended else None,
        created_at=start,
        updated_at=updated,
        post_count=sum(1 for p in posts if p.post.status is PostStatus.PUBLISHED),
    )


def in_time(entry: Entry) -> tuple[datetime, int]:
    """Entries in the order they were published (as far as the file tells)."""
    times = [v.at for v in entry.versions] + ([entry.deleted_at] if entry.deleted_at else [])
    return entry.published_at or min(times, default=datetime.max.replace(tzinfo=UTC)), entry.order
