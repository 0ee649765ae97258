"""The one typed object handlers get their collaborators from (`services(request)`), so mypy
checks `services(request).newsroom.write_post(…)` instead of an untyped `app.state` bag."""

from __future__ import annotations

from dataclasses import dataclass, field

from jinja2 import Environment
from starlette.requests import HTTPConnection

from dateline.bus import Bus
from dateline.config import Settings
from dateline.hub import Hub
from dateline.intake import Intake
from dateline.newsroom import Newsroom
from dateline.outbound.push import WebPush
from dateline.store import Store
from dateline.web.cache import BlogHeaders, RenderCache
from dateline.web.live.encoder import EventEncoder
from dateline.web.live.grip import GripPublisher
from dateline.web.live.outage import CutShortLog
from dateline.web.ratelimit import RateLimit


@dataclass(eq=False)
class Services:
    settings: Settings
    templates: Environment
    render_cache: RenderCache
    store: Store
    bus: Bus
    hub: Hub
    encoder: EventEncoder
    blogs: BlogHeaders  # blog headers for the read path, briefly reused
    newsroom: Newsroom
    signing_key: bytes  # signs session cookies
    grip: GripPublisher | None = None  # with push = grip: publishes committed events
    intake: Intake | None = None  # reporter inputs: Telegram, Slack, the SMTP receiver
    push: WebPush | None = None  # web push to stories' followers, unless web_push is off
    # Live readers this node takes before answering 503: the setting, lowered by the server
    # layer to keep room under its connection cap for the newsroom and the API.
    live_limit: int = 0
    # Readers' poll votes per client address, counted by this node (web/reader/polls.py).
    vote_limit: RateLimit = field(init=False)
    # Readers' follows and unfollows per client address (web/reader/follow.py).
    follow_limit: RateLimit = field(init=False)
    # Live streams the store's absence ended early, logged a few seconds apart.
    cut_short: CutShortLog = field(default_factory=CutShortLog)

    def __post_init__(self) -> None:
        self.live_limit = self.live_limit or self.settings.max_live_readers
        self.vote_limit = RateLimit(self.settings.poll_votes_per_minute, what="poll votes")
        self.follow_limit = RateLimit(
            self.settings.push_follows_per_minute, what="follows and unfollows"
        )


def services(connection: HTTPConnection) -> Services:
    found: Services = connection.app.state.services
    return found
