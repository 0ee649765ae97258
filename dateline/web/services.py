"""The one typed object handlers get their collaborators from (`services(request)`), so mypy
checks `services(request).newsroom.write_post(…)` instead of an untyped `app.state` bag."""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment
from starlette.requests import HTTPConnection

from dateline.bus import Bus
from dateline.config import Settings
from dateline.hub import Hub
from dateline.newsroom import Newsroom
from dateline.store import Store
from dateline.web.cache import BlogHeaders, RenderCache
from dateline.web.live.encoder import EventEncoder
from dateline.web.live.grip import GripPublisher


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
    # Live readers this node takes before answering 503: the setting, lowered by the server
    # layer to keep room under its connection cap for the newsroom and the API.
    live_limit: int = 0

    def __post_init__(self) -> None:
        self.live_limit = self.live_limit or self.settings.max_live_readers


def services(connection: HTTPConnection) -> Services:
    found: Services = connection.app.state.services
    return found
