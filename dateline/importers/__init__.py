"""Importers: other live blogs' pages and dumps → a blog and its posts, ready for the store."""

from __future__ import annotations

from dataclasses import dataclass, field

from dateline.model import Blog, Post


@dataclass
class ImportedBlog:
    blog: Blog
    posts: list[Post]
    warnings: list[str] = field(default_factory=list)


__all__ = ["ImportedBlog"]
