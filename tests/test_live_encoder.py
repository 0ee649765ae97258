"""The live encoder's per-event additions: the event's time as the page writes it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from dateline.model import Blog, Event, EventType
from dateline.store import Store
from dateline.web.app import make_templates
from dateline.web.live.encoder import EventEncoder


class _OneBlog:
    def __init__(self, blog: Blog) -> None:
        self.blog = blog

    async def get_blog_by_id(self, blog_id: int) -> Blog:
        return self.blog


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2026, 7, 1, 11, 5, tzinfo=UTC), "12:05 p.m. BST, July 1, 2026"),
        (datetime(2026, 12, 2, 11, 5, tzinfo=UTC), "11:05 a.m. GMT, December 2, 2026"),
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "1:30 a.m. BST, October 25, 2026"),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "1:30 a.m. GMT, October 25, 2026"),
    ],
)
async def test_each_events_time_is_written_in_the_blogs_zone_at_that_moment(
    at: datetime, expected: str
) -> None:
    blog = Blog(slug="london", title="London", timezone="Europe/London", id=1)
    encoder = EventEncoder(cast(Store, _OneBlog(blog)), make_templates())
    event = Event(1, 7, EventType.POST_DELETED, "p1", {}, at)
    data: dict[str, Any] = (await encoder.encode(event))[0]
    assert data["at_ap"] == expected
