"""The newsroom: every write and every rule of who may do what.

Every entry point (the JSON API, the console, the command line, importers and, later, reporter
inputs) goes through these use cases, which check permissions (permissions.py, the one place
that decides), validate what was sent (inputs.py), write through the store (the change and its
event in one transaction) and only then tell the bus, so an event is never announced before it
exists. The readers' JSON shapes (shapes.py) and URL paths (urls.py) live here too: the store
persists what the newsroom hands it.

    blogs.py     create a blog, change its header, go live, end coverage
    posts.py     write, edit, pin, flag, review, schedule, publish, delete; what members see
    accounts.py  users, roles, passwords, tokens, memberships, sessions, sign-in throttling
    uploads.py   images (checked and re-encoded by images.py)
    imports.py   whole blogs from other live blogs' dumps
    scheduling.py  publishes scheduled posts when their time comes
    polls.py     readers' polls: editors' rules, readers' votes, results announced once a second"""

from __future__ import annotations

from dateline.newsroom.accounts import AccountCases
from dateline.newsroom.blogs import BlogCases
from dateline.newsroom.imports import ImportCases
from dateline.newsroom.polls import PollCases
from dateline.newsroom.posts import PostCases
from dateline.newsroom.uploads import UploadCases


class Newsroom(BlogCases, PostCases, AccountCases, UploadCases, ImportCases, PollCases):
    """All of the newsroom's use cases, on one store and one bus."""


__all__ = ["Newsroom"]
