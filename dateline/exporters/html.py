"""The static HTML archive of a blog's ended coverage (`dateline export SLUG --format html`).

A folder that any static web server serves with Dateline stopped, at the live site's own URLs, so
a newsroom can replace an ended live blog by its archive and every link to it keeps working
(docs/archiving.md has the nginx configuration):

    DIR/SLUG/index.html            /SLUG               every post, newest first, on one page
    DIR/SLUG/oldest/index.html     /SLUG/oldest        oldest first (nginx maps ?sort=oldest here)
    DIR/SLUG/posts/ID/index.html   /SLUG/posts/ID      each published post's permalink
    DIR/SLUG/feed.atom             /SLUG/feed.atom     the Atom feed, with every post
    DIR/SLUG/embed/index.html      /SLUG/embed         what other sites' iframes show
    DIR/static/dateline.css        /static/…           the pages' style sheet
    DIR/favicon.ico                /favicon.ico
    DIR/media/NAME                 /media/NAME         only the images the pages show (srcset too)
    DIR/.dateline-archive.json                         what the folder holds, for a re-export

The pages are the reader's own templates and metadata (web/reader/pages.py) in their archive
mode: no script at all, no live stream, and no link to anything the archive lacks (a tag filter,
Load more). Drafts, scheduled and deleted posts are never read.

The archive is written into a temporary folder beside DIR and renamed into place once complete,
so DIR is never half-written. DIR may be missing, empty, or an earlier archive of the same blog
(which is replaced); anything else is refused before anything is written."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment

from dateline import __version__
from dateline.config import Settings
from dateline.errors import Conflict, DatelineError, Invalid
from dateline.model import Blog, BlogStatus, Post
from dateline.newsroom import Newsroom, permissions, urls
from dateline.newsroom.images import NAME_RE
from dateline.newsroom.shapes import post_json
from dateline.web.app import STATIC, make_templates
from dateline.web.reader import pages

MARKER = ".dateline-archive.json"
# Every address the pages give an image or a static file; whatever they name is copied.
_MEDIA_URL = re.compile(r"/media/([0-9a-f]{32}\.(?:jpg|png|webp))(?![\w.])")
_STATIC_URL = re.compile(r"/static/([A-Za-z0-9_-]+\.[a-z]+)\?v=")
# A path segment that can be nothing but itself: no "..", no slash, no dot-file.
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
_READ_BATCH = 500
_EMBED_POSTS = 10  # the embed snippet's default (docs/embedding.md)


class ArchiveNotWritten(DatelineError):
    """The folder could not be written (no room, no permission): the machine's problem, not
    the blog's."""

    status = 500
    code = "export_failed"


@dataclass(frozen=True)
class HtmlExport:
    """What an export wrote."""

    out: Path
    pages: int  # HTML pages
    files: int  # every file written, the pages included
    bytes: int
    images: int  # files copied from the media folder
    # Images the posts show that the media folder does not have (their pages show alt text).
    missing_images: tuple[str, ...] = ()
    replaced: bool = False  # an earlier archive of the blog was replaced


def oldest_path(slug: str) -> str:
    """The archive's oldest-first page (the live site's `/SLUG?sort=oldest`)."""
    return f"/{slug}/oldest"


async def export_html(
    newsroom: Newsroom, slug: str, out: Path, *, settings: Settings, origin: str = ""
) -> HtmlExport:
    """Write the archive of blog `slug`'s ended coverage to the folder `out`.

    `origin` is the public site's scheme and host (`https://live.example.org`): the canonical
    links, Open Graph, JSON-LD and the feed's entry ids then name the same absolute URLs as the
    live site did. Without it they are paths (`/SLUG`), which browsers and feed readers resolve
    against wherever the archive is served."""
    _segment(slug, "slug")
    origin = _checked_origin(origin)
    out = Path(out).resolve()
    _refusal(out, slug)  # before any work: a refused export changes nothing
    blog, posts, flagged = await _snapshot(newsroom, slug)
    files = render_archive(make_templates(), blog, posts, flagged, origin)
    media_dir = Path(settings.media_dir)
    wanted = sorted(set(_MEDIA_URL.findall("\n".join(_texts(files)))))
    found = {name: media_dir / name for name in wanted if (media_dir / name).is_file()}
    missing = tuple(name for name in wanted if name not in found)
    files[MARKER] = _marker(blog, origin)
    return await asyncio.to_thread(_write_archive, out, slug, files, found, missing)


def render_archive(
    templates: Environment, blog: Blog, posts: list[Post], flagged: list[Post], origin: str
) -> dict[str, bytes]:
    """Every page and the feed, by path inside the archive. `posts` are the blog's published
    posts, newest first; `flagged` its pinned and key ones (the store's flagged_posts)."""
    slug = blog.slug
    views = [post_json(p) for p in posts]
    archive = {"archive": True, "newest_url": urls.blog_path(slug), "oldest_url": oldest_path(slug)}
    files: dict[str, bytes] = {}
    for newest_first, page in ((True, f"{slug}/index.html"), (False, f"{slug}/oldest/index.html")):
        context = pages.blog_page_context(
            blog,
            views if newest_first else views[::-1],
            flagged,
            views[:50],
            origin,
            newest_first=newest_first,
            tag=None,
            next_cursor=None,
            live=False,
        )
        files[page] = _render(templates, "blog.html", {**context, **archive})
    for post in posts:
        _segment(post.id, "post id")
        context = pages.post_page_context(blog, post, origin)
        files[f"{slug}/posts/{post.id}/index.html"] = _render(
            templates, "post.html", {**context, "archive": True}
        )
    files[f"{slug}/feed.atom"] = pages.feed_xml(templates, blog, posts, origin, archive=True)
    embed = pages.embed_context(
        blog,
        posts[:_EMBED_POSTS],
        flagged,
        origin,
        count=_EMBED_POSTS,
        compact=False,
        pinned=True,
        key_events=False,
    )
    files[f"{slug}/embed/index.html"] = _render(templates, "embed.html", {**embed, "archive": True})
    return files


def _render(templates: Environment, name: str, context: Mapping[str, Any]) -> bytes:
    return str(templates.get_template(name).render(**context)).encode()


def _texts(files: Mapping[str, bytes]) -> Iterable[str]:
    return (data.decode() for data in files.values())


# -- reading ---------------------------------------------------------------------------------


async def _snapshot(newsroom: Newsroom, slug: str) -> tuple[Blog, list[Post], list[Post]]:
    """The blog, its published posts (newest first) and its flagged ones, all as of one seq:
    posts are read in several queries, so an edit meanwhile means reading them again."""
    store = newsroom.store
    for _ in range(5):
        blog = await store.get_blog(slug)
        _archivable(blog)
        posts: list[Post] = []
        after = None
        while True:
            batch, after = await store.list_posts(blog, limit=_READ_BATCH, after=after)
            posts.extend(batch)
            if after is None:
                break
        flagged = await store.flagged_posts(blog)
        if (await store.get_blog(slug)).last_seq == blog.last_seq:
            return blog, posts, flagged
    raise Conflict(f"blog {slug!r} kept changing while it was read; export it again")


def _archivable(blog: Blog) -> None:
    if not permissions.public_blog(blog):
        raise Conflict(f"blog {blog.slug!r} is a draft: it has no public coverage to archive")
    if blog.status is not BlogStatus.ENDED:
        raise Conflict(
            f"coverage of blog {blog.slug!r} is still live; end it first (PATCH the blog with "
            '{"status": "ended"}, or set its status to ended in the console), then export it: '
            "the archive has no live updates"
        )


def _segment(value: str, what: str) -> str:
    """`value` as one path segment of the archive, or an error (slugs and post ids are made safe
    where they are created; this keeps a stray one from writing outside the folder)."""
    if not _SEGMENT.fullmatch(value):
        raise Invalid(f"{what} {value!r} cannot name a folder of the archive", field=what)
    return value


def _checked_origin(origin: str) -> str:
    if not origin:
        return ""
    parts = urlsplit(origin)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise Invalid(
            f"origin {origin!r} must be the public site's scheme and host alone, such as "
            "'https://live.example.org'",
            field="origin",
        )
    return f"{parts.scheme}://{parts.netloc}"


def _marker(blog: Blog, origin: str) -> bytes:
    about = {
        "slug": blog.slug,
        "title": blog.title,
        "last_seq": blog.last_seq,
        "origin": origin or None,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "generator": f"Dateline {__version__}",
    }
    return (json.dumps(about, indent=2, ensure_ascii=False) + "\n").encode()


# -- writing ---------------------------------------------------------------------------------


def _refusal(out: Path, slug: str) -> bool:
    """Whether `out` is an earlier archive of `slug` to replace (False: missing or empty);
    raises, saying what to do, for anything else."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise Conflict(f"{out} is a file; export into a new or empty folder (nothing was changed)")
    entries = set(os.listdir(out))
    if not entries:
        return False
    previous = _previous_slug(out / MARKER)
    if previous is None:
        raise Conflict(
            f"{out} is not empty and is not a Dateline archive; export into a new or empty "
            "folder, or remove it first (nothing was changed)"
        )
    if previous != slug:
        raise Conflict(
            f"{out} holds the archive of blog {previous!r}, not {slug!r}; export into a new or "
            "empty folder (nothing was changed)"
        )
    others = sorted(entries - {slug, "static", "media", "favicon.ico", MARKER})
    if others:
        raise Conflict(
            f"{out} holds an archive of {slug!r} and other files ({', '.join(others)}) that "
            "replacing it would delete; export into a new or empty folder (nothing was changed)"
        )
    return True


def _previous_slug(marker: Path) -> str | None:
    try:
        slug = json.loads(marker.read_text("utf-8")).get("slug")
    except (OSError, ValueError, AttributeError):
        return None
    return slug if isinstance(slug, str) else None


def _write_archive(
    out: Path,
    slug: str,
    files: Mapping[str, bytes],
    media: Mapping[str, Path],
    missing: tuple[str, ...],
) -> HtmlExport:
    """Write everything into a fresh folder beside `out`, then rename it into place."""
    static = _static_names(files)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as exc:
        raise ArchiveNotWritten(_cannot(out, exc)) from exc
    try:
        os.chmod(work, 0o755)  # mkdtemp's 0700 would keep the web server out
        written = 0
        for path, data in files.items():
            written += _write(work / path, [data])
        for name in static:
            written += _write(work / "static" / name, [(STATIC / name).read_bytes()])
        written += _write(work / "favicon.ico", [(STATIC / "favicon.ico").read_bytes()])
        for name, source in media.items():
            assert NAME_RE.fullmatch(name)
            written += _write(work / "media" / name, _chunks(source))
        # Checked again: the folder may have been filled while the archive was made.
        replaced = _refusal(out, slug)
        _swap(work, out, replaced)
    except OSError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise ArchiveNotWritten(_cannot(out, exc)) from exc
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return HtmlExport(
        out=out,
        pages=sum(1 for path in files if path.endswith(".html")),
        files=len(files) + len(static) + 1 + len(media),
        bytes=written,
        images=len(media),
        missing_images=missing,
        replaced=replaced,
    )


def _cannot(out: Path, exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    return (
        f"the archive could not be written to {out}: {exc.strerror or exc}{where}; "
        "nothing was changed"
    )


def _static_names(files: Mapping[str, bytes]) -> list[str]:
    names = sorted(set(_STATIC_URL.findall("\n".join(_texts(files)))))
    for name in names:
        if not (STATIC / name).is_file():
            raise FileNotFoundError(f"the pages name /static/{name}, which Dateline lacks")
    return names


def _chunks(path: Path, size: int = 1 << 20) -> Iterable[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(size):
            yield chunk


def _write(path: Path, chunks: Iterable[bytes]) -> int:
    """A new file, readable by the web server, on disk before the folder is renamed."""
    _folders(path.parent)
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o644)
        for chunk in chunks:
            written += f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    return written


def _folders(path: Path) -> None:
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o755)
        os.chmod(folder, 0o755)  # whatever the umask


def _swap(work: Path, out: Path, replacing: bool) -> None:
    """Put the finished folder at `out`. A missing or empty `out` is replaced in one rename;
    an earlier archive is moved aside first (readers may miss it for that instant) and then
    deleted."""
    if not replacing:
        os.rename(work, out)  # fails, changing nothing, if `out` has been filled meanwhile
    else:
        old = out.with_name(f"{work.name}.old")
        os.rename(out, old)
        try:
            os.rename(work, out)
        except OSError:
            os.rename(old, out)
            raise
        shutil.rmtree(old)
    _sync_folder(out.parent)


def _sync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
