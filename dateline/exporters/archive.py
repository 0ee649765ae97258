"""Export a blog whole as a `dateline-archive/1` (importers/archive.py defines the format;
docs/archive.md describes it): the header, every post in every status with every revision, the
event log, the people it names by email, and the image files, checksummed.

The same blog exported twice gives the same bytes but for `exported_at`: records are written with
sorted keys, posts in the order they were written, files in name order, and the tar and gzip
headers carry no times or owners. The archive is written beside its destination and renamed into
place, so a failed export leaves nothing half written."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from dateline import __version__
from dateline.errors import Conflict, DatelineError
from dateline.importers.archive import EVENTS, FORMAT, HEADER, MEDIA, POSTS, canonical
from dateline.model import Blog, Media, Post, Revision, User
from dateline.newsroom import Newsroom
from dateline.newsroom.images import media_path
from dateline.store import Store

Progress = Callable[[str, int, int | None], None]


class ExportFailed(DatelineError):
    """The blog cannot be exported as it is stored (an image file is missing from the media
    folder): an installation problem, not the caller's."""

    status = 500
    code = "export_failed"


@dataclass(frozen=True, slots=True)
class Exported:
    path: Path
    posts: int
    events: int
    files: int
    bytes: int


# Passes over a blog that keeps changing before an export gives up (see export_archive).
EXPORT_ATTEMPTS = 5


def _time(moment: datetime | None) -> str | None:
    """Full precision, UTC, with a Z: an archive keeps times exactly as stored."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _media(items: list[Media]) -> list[dict[str, Any]]:
    return [m.to_json() for m in items]


def _media_names(items: list[Media]) -> set[str]:
    names = set()
    for m in items:
        if m.url and m.url.startswith("/media/"):
            names.add(m.url.removeprefix("/media/"))
        if m.poster and m.poster.startswith("/media/"):
            names.add(m.poster.removeprefix("/media/"))
        for item in [*(m.srcset or "").split(", "), *(m.poster_srcset or "").split(", ")]:
            if item.startswith("/media/"):
                names.add(item.removeprefix("/media/").split(" ")[0])
    return names


def _poll(post: Post) -> dict[str, Any] | None:
    """A post's poll with its counts (the voters themselves stay behind: see store/polls.py)."""
    poll = post.poll
    if poll is None:
        return None
    return {
        "id": poll.id,
        "question": poll.question,
        "options": [{"text": o.text, "votes": o.votes} for o in poll.options],
        "closes_at": _time(poll.closes_at),
        "created_at": _time(poll.created_at),
    }


# What an archive leaves out of a post or a blog, and why; every other field of the model is in
# post_record and the blog header (tests/test_transfer.py checks this against the model, so a
# new field is archived or named here).
NOT_ARCHIVED: dict[str, dict[str, str]] = {
    "post": {
        "blog_slug": "an archive holds one blog; the restore names it",
        "body_html": "rendered again from the body",
        "embeds_due": "when a pending embed is fetched again: a restore fetches what is missing",
        "origin": "the chat message a reporter input posted from, which makes a redelivered "
        "message one post; it means nothing outside the instance that received it",
    },
    "blog": {
        "id": "the store's own number; a restore gets a new one",
    },
}


def post_record(
    post: Post, revisions: list[Revision], author: str | None, writers: dict[int, str | None]
) -> dict[str, Any]:
    return {
        "id": post.id,
        "headline": post.headline,
        "body": post.body,
        "byline": post.byline.to_json(),
        "contributors": post.contributors,
        "media": _media(post.media),
        "tags": post.tags,
        "pinned": post.pinned,
        "key_event": post.key_event,
        "status": post.status.value,
        "published_at": _time(post.published_at),
        "created_at": _time(post.created_at),
        "updated_at": _time(post.updated_at),
        "revision": post.revision,
        "correction": post.correction,
        "seq": post.seq,
        "author": author,
        "delete_reason": post.delete_reason,
        "publish_at": _time(post.publish_at),
        "review_note": post.review_note,
        "notify": post.notify,
        "embeds": [e.to_json() for e in post.embeds],
        "poll": _poll(post),
        "revisions": [
            {
                "number": r.number,
                "created_at": _time(r.created_at),
                "by": writers.get(r.number),
                "headline": r.headline,
                "body": r.body,
                "byline": r.byline.to_json(),
                "contributors": r.contributors,
                "media": _media(r.media),
                "note": r.note,
            }
            for r in revisions
        ],
    }


class _Hashed:
    """A file being written, with its sha256 and size kept as it goes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] = path.open("wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def line(self, data: bytes) -> None:
        chunk = data + b"\n"
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def close(self) -> dict[str, Any]:
        self._file.close()
        return {"name": self.path.name, "size": self.size, "sha256": self._hash.hexdigest()}


def _file_record(path: Path, name: str) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return {"name": name, "size": path.stat().st_size, "sha256": digest.hexdigest()}


_Taken = tuple[dict[str, Any], dict[str, Any], int, int, set[str], set[str]]


async def _posts_and_events(
    store: Store, blog: Blog, work: Path, progress: Progress | None
) -> _Taken:
    """posts.jsonl and events.jsonl into `work`: their file records, the counts, and the
    e-mail addresses and media names they name."""
    emails: set[str] = set()
    names: set[str] = set()
    posts = _Hashed(work / POSTS)
    count = 0
    try:
        async for chunk in store.posts_for_export(blog):
            for post, revisions, author, writers in chunk:
                posts.line(canonical(post_record(post, revisions, author, writers)))
                emails.update(e for e in [author, *writers.values()] if e)
                names |= _media_names(post.media)
                names |= {
                    e.thumbnail.removeprefix("/media/")
                    for e in post.embeds
                    if e.thumbnail and e.thumbnail.startswith("/media/")
                }
                for r in revisions:
                    names |= _media_names(r.media)
            count += len(chunk)
            if progress is not None:
                progress("posts", count, blog.post_count or None)
    finally:
        posts_file = posts.close()
    events = _Hashed(work / EVENTS)
    event_count = 0
    try:
        async for batch in store.events_for_export(blog):
            for e in batch:
                record = {"seq": e.seq, "type": e.type.value, "post_id": e.post_id}
                events.line(canonical({**record, "at": _time(e.at)}))
            event_count += len(batch)
            if progress is not None:
                progress("events", event_count, blog.last_seq)
    finally:
        events_file = events.close()
    return posts_file, events_file, count, event_count, emails, names


async def export_archive(
    newsroom: Newsroom,
    user: User | None,
    slug: str,
    out: Path,
    *,
    folder: bool = False,
    progress: Progress | None = None,
) -> Exported:
    """Write the blog's archive to `out`: a .tar.gz, or with `folder` a new folder holding the
    same files. `user` None is the instance itself (the command line)."""
    blog = await newsroom.blog_for_export(user, slug)
    store = newsroom.store
    media_dir = Path(newsroom.settings.media_dir)
    out = out.expanduser().absolute()
    if out.exists() and not (folder and out.is_dir() and not any(out.iterdir())):
        raise Conflict(f"{out} exists already; give a new path")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".dateline-export-", dir=out.parent))
    try:
        # Posts and events are read in batches, not in one transaction: a change that lands
        # meanwhile (a post, a poll's results) would leave events after the header's last seq,
        # which a restore rightly refuses. So the blog is read again after them, and the pass is
        # made again from where the blog is then, until nothing moved in between.
        for _ in range(EXPORT_ATTEMPTS):
            taken = await _posts_and_events(store, blog, work, progress)
            now = await newsroom.blog_for_export(user, slug)
            if now.last_seq == blog.last_seq:
                break
            blog = now
        else:
            raise Conflict(
                f"the blog changed during each of {EXPORT_ATTEMPTS} tries to export it; "
                "try again in a quieter moment"
            )
        posts_file, events_file, count, event_count, emails, names = taken
        # The upload records behind the images, and every width variant of them (and of an
        # animation's poster).
        uploads = await store.media_records(sorted({n.partition(".")[0] for n in names}))
        for upload in uploads:
            names |= {v["name"] for v in upload["variants"]}
            if upload["poster"]:
                names |= {v["name"] for v in upload["poster"]["variants"]}
            if upload["uploaded_by_email"]:
                emails.add(upload["uploaded_by_email"])
        files = [posts_file, events_file]
        files += await asyncio.to_thread(_copy_media, media_dir, work, sorted(names), slug)
        members = {u.email for u in await store.members(blog.id or 0)}
        accounts = await store.users_by_email(emails | members)
        people = [
            {"email": u.email, "name": u.name, "role": u.role.value, "member": u.email in members}
            for u in sorted(accounts.values(), key=lambda u: u.email)
        ]
        header = {
            "format": FORMAT,
            "generator": f"dateline {__version__}",
            "exported_at": _time(datetime.now(UTC)),
            "blog": {
                "slug": blog.slug,
                "title": blog.title,
                "summary": blog.summary,
                "organisation": blog.organisation,
                "authors": [a.to_json() for a in blog.authors],
                "timezone": blog.timezone,
                "status": blog.status.value,
                "coverage_start": _time(blog.coverage_start),
                "coverage_end": _time(blog.coverage_end),
                "created_at": _time(blog.created_at),
                "updated_at": _time(blog.updated_at),
                "last_seq": blog.last_seq,
                "post_count": blog.post_count,
                "score": blog.score.to_json() if blog.score else None,
            },
            "people": people,
            "uploads": [
                {
                    "key": u["key"],
                    "content_type": u["content_type"],
                    "width": u["width"],
                    "height": u["height"],
                    "variants": u["variants"],
                    "animated": u["animated"],
                    "poster": u["poster"],
                    "alt": u["alt"],
                    "caption": u["caption"],
                    "credit": u["credit"],
                    "uploaded_by": u["uploaded_by_email"],
                    "created_at": _time(u["created_at"]),
                }
                for u in uploads
            ],
            "files": sorted(files, key=lambda f: f["name"]),
            "posts": count,
            "events": event_count,
        }
        (work / HEADER).write_bytes(canonical(header) + b"\n")
        order = [HEADER, *(MEDIA + n for n in sorted(names)), POSTS, EVENTS]
        if folder:
            if out.exists():
                out.rmdir()
            os.replace(work, out)
            size = sum((out / name).stat().st_size for name in order)
        else:
            await asyncio.to_thread(_tar, work, order, work / "archive.tar.gz")
            size = (work / "archive.tar.gz").stat().st_size
            os.replace(work / "archive.tar.gz", out)
        return Exported(out, count, event_count, len(names), size)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _copy_media(media_dir: Path, work: Path, names: list[str], slug: str) -> list[dict[str, Any]]:
    """Copy the named images into the archive's folder; their file records."""
    (work / "media").mkdir()
    records = []
    for name in names:
        source = media_path(media_dir, name)
        if source is None:
            raise ExportFailed(
                f"the image {name}, used in blog {slug!r}, is missing from the media folder "
                f"{media_dir}; restore it from a backup, then export again"
            )
        shutil.copyfile(source, work / "media" / name)
        records.append(_file_record(work / "media" / name, MEDIA + name))
    return records


def _tar(work: Path, order: list[str], target: Path) -> None:
    """The files as a gzip'd tar with nothing in it that changes between two exports."""
    with target.open("wb") as raw:
        with (
            gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for name in order:
                info = tarfile.TarInfo(name)
                path = work / name
                info.size = path.stat().st_size
                info.mode = 0o644
                info.mtime = 0
                with path.open("rb") as f:
                    tar.addfile(info, f)
        raw.flush()
        os.fsync(raw.fileno())


__all__ = ["ExportFailed", "Exported", "export_archive", "post_record"]
