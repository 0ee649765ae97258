"""The newsroom console at /newsroom/: sign-in, blogs, the compose box and the stream of posts
(blogs.py), the score box editor (scores.py), a blog's webhooks (webhooks.py), tokens, users and
memberships (people.py), reporter inputs' pairing codes, pairings and blog settings
(reporters.py). Pages are server-rendered; every form carries a CSRF token and every write goes
through the newsroom."""

from __future__ import annotations

from dateline.web.console import blogs, people, reporters, scores, webhooks

routes = [*blogs.routes, *scores.routes, *webhooks.routes, *people.routes, *reporters.routes]
