"""The newsroom: every write and every rule of who may do what.

Every entry point (the JSON API, the console, the command line, importers and, later, reporter
inputs) goes through these use cases, which check permissions (permissions.py, the one place
that decides), validate what was sent (inputs.py), write through the store (the change and its
event in one transaction) and only then tell the bus, so an event is never announced before it
exists. The readers' JSON shapes (shapes.py) and URL paths (urls.py) live here too: the store
persists what the newsroom hands it.

    blogs.py     create a blog, change its header, go live, end coverage
    scores.py    the live score box: set it, count with one click, change its status line
    posts.py     write, edit, pin, flag, review, schedule, publish, delete; what members see
    accounts.py  users, roles, passwords, tokens, memberships, sessions, sign-in throttling,
                 the key that signs sign-in cookies
    followers.py readers following a blog (web push): the subscription checked, kept, dropped
    uploads.py   images (checked and re-encoded by images.py)
    embeds.py    URLs alone on a line become embeds: snapshots fetched, thumbnails stored
    imports.py   whole blogs from other live blogs' dumps
    scheduling.py  the background rounds: scheduled posts, pending embeds
    polls.py     readers' polls: editors' rules, readers' votes, results announced once a second
    webhooks.py  signed webhooks: register (https, public addresses), pause, resume, delete
    reporters.py reporter inputs: pairing platform identities with users, linked channels,
                 what a message becomes (dateline/intake/ holds the platforms' adapters)"""

from __future__ import annotations

from dateline.newsroom.accounts import AccountCases
from dateline.newsroom.blogs import BlogCases
from dateline.newsroom.imports import ImportCases
from dateline.newsroom.polls import PollCases
from dateline.newsroom.posts import PostCases
from dateline.newsroom.reporters import ReporterCases
from dateline.newsroom.scores import ScoreCases
from dateline.newsroom.webhooks import WebhookCases


class Newsroom(
    BlogCases,
    ScoreCases,
    ReporterCases,
    PostCases,
    AccountCases,
    ImportCases,
    PollCases,
    WebhookCases,
):
    """All of the newsroom's use cases, on one store and one bus."""


__all__ = ["Newsroom"]
