"""Importers: other live blogs' pages and dumps → a blog and its posts, ready for the newsroom.

An importer only reads: it turns a file into an `ImportedBlog` and refuses what it cannot read with
`ImportFailed` naming the line (or the item). It validates nothing the newsroom validates (slugs,
lengths, control characters, times in the future): every imported post goes through the same rules
as a post sent to the API (`dateline.newsroom.imports`).

`posts` may be a generator, parsed while the newsroom writes: a file of 100,000 posts is never held
in memory at once. If it raises half way, the newsroom removes what it wrote, so a file that cannot
be read imports nothing. Warnings found while reading are appended to `warnings` as it goes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from dateline.errors import DatelineError, ImportFailed
from dateline.model import Blog, Post, Revision
from dateline.render import zone


@dataclass(slots=True)
class ImportedPost:
    """A post and, when the source has them, its earlier versions (oldest first; `post` holds the
    latest). An earlier version's `post_id`, `number` and `user_id` are filled in by the newsroom;
    `user_name` is who wrote it, as the source names them."""

    post: Post
    earlier: list[Revision] = field(default_factory=list)


@dataclass
class ImportedBlog:
    blog: Blog
    posts: Iterable[Post | ImportedPost]
    warnings: list[str] = field(default_factory=list)


def display_zone(timezone: str | None) -> str:
    """The blog's display zone from `--timezone`: UTC when none is given; an unknown name is an
    `ImportFailed` (the file is not read)."""
    if timezone is None:
        return "UTC"
    try:
        zone(timezone)
    except DatelineError as exc:
        raise ImportFailed(exc.message) from None
    return timezone


__all__ = ["ImportedBlog", "ImportedPost", "display_zone"]
