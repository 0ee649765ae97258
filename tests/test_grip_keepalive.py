"""Quiet streams through a real Pushpin: the node's keep-alives stop the edge from sending every
reader it holds back to the node when nothing is published (Pushpin times the streams of one
next link together: a quiet minute would be one request per reader, all in the same second), and
each hold's timeout is its own, so that without keep-alives those requests are spread out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from dateline.config import Settings
from dateline.errors import Invalid
from dateline.web.live.grip import check_settings, recover_timeout
from tests.conftest import Running
from tests.pushpin import Pushpin
from tests.sse import connect

pytestmark = pytest.mark.network
SLUG = "xi-putin-moscow"
KEY = "grip-test-key-of-at-least-32-characters"
SEED_EVENTS = 9
KEEPALIVE = 1.5


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Pushpin]:
    # An id cache shorter than the keep-alive, as Pushpin's 60 s is shorter than the default 75 s.
    pushpin = Pushpin(tmp_path / "pushpin", key=KEY, id_cache_ttl=1)
    yield pushpin
    pushpin.stop()


@pytest.fixture
def settings_overrides(edge: Pushpin, request: pytest.FixtureRequest) -> dict[str, Any]:
    return {
        "push": "grip",
        "grip_publish_urls": edge.publish_url,
        "grip_key": KEY,
        "grip_recover_seconds": 3.0,
        "grip_keepalive_seconds": KEEPALIVE,
        "grip_retry_seconds": 1.0,
        **getattr(request, "param", {}),
    }


@pytest.fixture
async def pushpin(edge: Pushpin, seeded: Running) -> AsyncIterator[Pushpin]:
    edge.start([int(seeded.base_url.rsplit(":", 1)[1])])
    await edge.ready(f"/{SLUG}/live")
    # Let the readiness probe's stream close first: a reader arriving while Pushpin tears it down
    # was once cancelled by Pushpin itself ("received message out of sequence") and left open
    # with nothing on it, where a browser would have reconnected.
    await asyncio.sleep(0.5)
    yield edge
    edge.stop()


async def _post(running: Running, headline: str) -> int:
    async with running.client(running.token) as c:
        r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": headline})
        assert r.status_code == 201, r.text
        return int(r.json()["seq"])


async def test_quiet_streams_are_kept_alive_without_asking_the_node(
    pushpin: Pushpin, seeded: Running
) -> None:
    publisher = seeded.services.grip
    assert publisher is not None
    async with (
        connect(pushpin.base_url, f"/{SLUG}/live") as a,
        connect(pushpin.base_url, f"/{SLUG}/live") as b,
    ):
        for reader in (a, b):
            assert [f.id for f in await reader.events(SEED_EVENTS)] == list(range(1, 10))
        seq = await _post(seeded, "Before the quiet")
        for reader in (a, b):
            assert [f.id for f in await reader.events(1)] == [seq]
        # Pushpin times the streams of one path and timeout together, from the first: a stream
        # that joined just before that timer fires may ask once, then is in step.
        assert await a.nothing_more(4.5)
        asked = pushpin.next_link_requests()
        # Two recovery timeouts and more (3 to 4 s each) of silence.
        assert await a.nothing_more(9.0)
        assert await b.nothing_more(0.1)
        assert pushpin.next_link_requests() == asked  # no stream came back to the node
        assert publisher.kept_alive >= 4
        # The keep-alives reach the readers as comments, not events; the stream goes on.
        seq = await _post(seeded, "After the quiet")
        for reader in (a, b):
            assert [f.id for f in await reader.events(1)] == [seq]
            assert await reader.nothing_more(0.3)


@pytest.mark.parametrize("settings_overrides", [{"grip_keepalive_seconds": 0.0}], indirect=True)
async def test_without_keepalives_quiet_streams_come_back_after_their_timeout(
    pushpin: Pushpin, seeded: Running
) -> None:
    # What the keep-alives save: the same silence, none sent.
    async with connect(pushpin.base_url, f"/{SLUG}/live") as reader:
        assert len(await reader.events(SEED_EVENTS)) == SEED_EVENTS
        asked = pushpin.next_link_requests()
        assert await reader.nothing_more(9.5)
        assert pushpin.next_link_requests() >= asked + 2
    assert seeded.services.grip is not None and seeded.services.grip.kept_alive == 0


# The streams time out after 60 to 90 s: only a keep-alive finds the gap sooner.
@pytest.mark.parametrize("settings_overrides", [{"grip_recover_seconds": 60.0}], indirect=True)
async def test_a_lost_last_event_is_noticed_at_the_next_keepalive(
    pushpin: Pushpin, seeded: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    publisher = seeded.services.grip
    assert publisher is not None
    real = publisher._publish

    async def lose_events(batch: list[dict[str, Any]], *, events: bool = True) -> None:
        if events:  # the event never reaches the edge; keep-alives do
            return
        await real(batch, events=events)

    async with connect(pushpin.base_url, f"/{SLUG}/live") as reader:
        assert len(await reader.events(SEED_EVENTS)) == SEED_EVENTS
        monkeypatch.setattr(publisher, "_publish", lose_events)
        started = time.monotonic()
        seq = await _post(seeded, "Lost on the way")
        # The keep-alive names seq 10 while the edge's streams are at 9: Pushpin holds it for
        # its message_wait (5 s here) in case 10 is late, then the streams ask the node.
        assert [f.id for f in await reader.events(1, timeout=20)] == [seq]
        assert time.monotonic() - started < 20
        assert await reader.nothing_more(2 * KEEPALIVE)


async def test_a_blog_whose_coverage_ended_is_not_kept_alive(
    pushpin: Pushpin, seeded: Running
) -> None:
    publisher = seeded.services.grip
    assert publisher is not None
    async with connect(pushpin.base_url, f"/{SLUG}/live") as reader:
        assert len(await reader.events(SEED_EVENTS)) == SEED_EVENTS
        async with seeded.client(seeded.token) as c:
            r = await c.patch(f"/api/v1/blogs/{SLUG}", json={"status": "ended"})
            assert r.status_code == 200, r.text
        ended = await reader.next_event(10)
        assert ended.data is not None and ended.data["type"] == "blog.ended"
        assert await reader.ended(10)
    sent = publisher.kept_alive
    await asyncio.sleep(3 * KEEPALIVE)
    assert publisher.kept_alive == sent


def test_each_hold_draws_its_own_timeout() -> None:
    settings = Settings(push="grip", grip_publish_urls="http://e/publish/", grip_recover_seconds=60)
    drawn = {recover_timeout(settings) for _ in range(500)}
    assert min(drawn) >= 60 and max(drawn) <= 90
    assert len(drawn) > 20  # spread over the half-period, not one value


async def test_the_hold_answer_carries_the_drawn_timeout(seeded: Running) -> None:
    token = jwt.encode({"iss": "pushpin", "exp": int(time.time()) + 600}, KEY, algorithm="HS256")
    timeouts = set()
    async with httpx.AsyncClient(base_url=seeded.base_url) as client:
        for _ in range(30):
            answer = await client.get(f"/{SLUG}/live", headers={"Grip-Sig": token})
            assert answer.headers["grip-hold"] == "stream"
            link = answer.headers["grip-link"]
            timeouts.add(int(link.rsplit("timeout=", 1)[1]))
    assert all(3 <= t <= 4 for t in timeouts) and len(timeouts) == 2


@pytest.mark.parametrize(
    ("keepalive", "recover"), [(120.0, 120.0), (200.0, 120.0), (-1.0, 120.0), (10.0, 0.5)]
)
def test_keepalives_that_cannot_work_are_refused_at_start(keepalive: float, recover: float) -> None:
    with pytest.raises(Invalid):
        check_settings(
            Settings(push="grip", grip_publish_urls="http://e/publish/",
                     grip_keepalive_seconds=keepalive, grip_recover_seconds=recover)
        )  # fmt: skip
