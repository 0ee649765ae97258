"""The live score box: set and taken down through PATCH, counted one click at a time through
POST /score (concurrent clicks all count, a score never goes below 0), each change one
`blog.score` event that readers get live and on resuming; shown on the page, the permalink and
the embed, and to search engines as a SportsEvent. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest

from tests import sse
from tests.conftest import Running
from tests.test_console import make_person, sign_in

SLUG = "xi-putin-moscow"
BLOG = f"/api/v1/blogs/{SLUG}"
SCORE = f"{BLOG}/score"
MATCH = {
    "kind": "sport",
    "status": "1st half 12'",
    "sides": [{"name": "Arsenal"}, {"name": "Chelsea"}],
}


async def _with_box(running: Running, box: dict[str, Any] = MATCH) -> dict[str, Any]:
    async with running.client(running.token) as c:
        r = await c.patch(BLOG, json={"score": box})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _events(c: httpx.AsyncClient, after: int) -> list[dict[str, Any]]:
    r = await c.get(f"{BLOG}/events", params={"after": after})
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


async def test_an_editor_sets_a_score_box_and_the_blog_carries_it(seeded: Running) -> None:
    blog = await _with_box(seeded)
    assert blog["score"] == {
        "kind": "sport",
        "status": "1st half 12'",
        "sides": [{"name": "Arsenal", "score": 0}, {"name": "Chelsea", "score": 0}],
    }
    assert blog["last_seq"] == 10
    async with seeded.client() as c:
        assert (await c.get(BLOG)).json()["score"] == blog["score"]
        events = await _events(c, 9)
    assert [e["type"] for e in events] == ["blog.score"]
    assert events[0]["blog"]["score"] == blog["score"]


async def test_a_blog_without_a_box_says_score_null(seeded: Running) -> None:
    async with seeded.client() as c:
        assert (await c.get(BLOG)).json()["score"] is None


async def test_one_click_counts_a_goal_and_minus_one_corrects_it(seeded: Running) -> None:
    await _with_box(seeded)
    async with seeded.client(seeded.token) as c:
        r = await c.post(SCORE, json={"side": 0})
        assert r.status_code == 200, r.text
        assert [s["score"] for s in r.json()["score"]["sides"]] == [1, 0]
        r = await c.post(SCORE, json={"side": 1, "by": 2, "status": "2nd half 67'"})
        assert r.json()["score"]["sides"][1] == {"name": "Chelsea", "score": 2}
        assert r.json()["score"]["status"] == "2nd half 67'"
        r = await c.post(SCORE, json={"side": 1, "by": -1})
        assert [s["score"] for s in r.json()["score"]["sides"]] == [1, 1]
        r = await c.post(SCORE, json={"status": "Full time"})
        assert r.json()["score"]["status"] == "Full time" and r.json()["last_seq"] == 14
        events = await _events(c, 10)
    assert [e["type"] for e in events] == ["blog.score"] * 4
    assert [[s["score"] for s in e["blog"]["score"]["sides"]] for e in events] == [
        [1, 0],
        [1, 2],
        [1, 1],
        [1, 1],
    ]


async def test_twenty_clicks_at_once_count_twenty(seeded: Running) -> None:
    """Each click adds to the score as it is inside its own transaction, never to the score the
    clicker saw: no click is lost to a race (on SQLite and PostgreSQL)."""
    await _with_box(seeded)
    clients = [seeded.client(seeded.token) for _ in range(20)]
    try:
        answers = await asyncio.gather(*(c.post(SCORE, json={"side": 1}) for c in clients))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    assert [r.status_code for r in answers] == [200] * 20, [r.text for r in answers]
    # Every click saw a different score: the answers count 1 to 20, once each.
    assert sorted(r.json()["score"]["sides"][1]["score"] for r in answers) == list(range(1, 21))
    blog = await seeded.store.get_blog(SLUG)
    assert blog.score is not None and [s.score for s in blog.score.sides] == [0, 20]
    assert blog.last_seq == 10 + 20
    async with seeded.client() as c:
        events = await _events(c, 10)
    assert [e["seq"] for e in events] == list(range(11, 31))
    assert [e["blog"]["score"]["sides"][1]["score"] for e in events] == list(range(1, 21))


async def test_clicks_in_both_directions_at_once_never_go_below_zero(seeded: Running) -> None:
    await _with_box(seeded)
    async with seeded.client(seeded.token) as c:
        assert (await c.post(SCORE, json={"side": 0, "by": 3})).status_code == 200
    clients = [seeded.client(seeded.token) for _ in range(10)]
    try:
        answers = await asyncio.gather(
            *(c.post(SCORE, json={"side": 0, "by": -1}) for c in clients)
        )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] * 3 + [409] * 7, [r.text for r in answers]
    blog = await seeded.store.get_blog(SLUG)
    assert blog.score is not None and blog.score.sides[0].score == 0
    assert blog.last_seq == 10 + 1 + 3  # the refused clicks logged nothing


async def test_below_zero_is_refused_with_409_and_writes_nothing(seeded: Running) -> None:
    await _with_box(seeded)
    async with seeded.client(seeded.token) as c:
        r = await c.post(SCORE, json={"side": 1, "by": -1})
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "conflict" and "Chelsea has 0" in error["message"]
    assert error["score"]["sides"][1]["score"] == 0
    assert (await seeded.store.get_blog(SLUG)).last_seq == 10


async def test_counting_without_a_box_is_refused_with_409(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        r = await c.post(SCORE, json={"side": 0})
    assert r.status_code == 409 and "has no score box" in r.json()["error"]["message"]
    assert (await seeded.store.get_blog(SLUG)).last_seq == 9


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "side"),
        ({"by": 1}, "side"),
        ({"side": 2}, "side"),
        ({"side": True}, "side"),
        ({"side": "0"}, "side"),
        ({"side": 0, "by": 0}, "by"),
        ({"side": 0, "by": 1.5}, "by"),
        ({"side": 0, "by": 100_000}, "by"),
        ({"status": "x" * 201}, "status"),
        ({"status": "bell\x07"}, "status"),
        ({"side": 0, "points": 1}, "points"),
    ],
)
async def test_bad_clicks_get_422_and_change_nothing(
    seeded: Running, body: dict[str, Any], field: str
) -> None:
    await _with_box(seeded)
    async with seeded.client(seeded.token) as c:
        r = await c.post(SCORE, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field and r.json()["error"]["message"]
    blog = await seeded.store.get_blog(SLUG)
    assert blog.last_seq == 10 and blog.score is not None
    assert [s.score for s in blog.score.sides] == [0, 0] and blog.score.status == "1st half 12'"


@pytest.mark.parametrize(
    ("box", "field"),
    [
        ({"sides": [{"name": "Arsenal"}]}, "score.sides"),
        ({"sides": [{"name": "A"}, {"name": "B"}, {"name": "C"}]}, "score.sides"),
        ({"sides": [{"name": "Arsenal"}, {"name": "  "}]}, "score.sides.1.name"),
        ({"sides": [{"name": "A", "score": -1}, {"name": "B"}]}, "score.sides.0.score"),
        ({"sides": [{"name": "A", "score": "1"}, {"name": "B"}]}, "score.sides.0.score"),
        ({"kind": "chess", "sides": [{"name": "A"}, {"name": "B"}]}, "score.kind"),
        ({"sides": [{"name": "A"}, {"name": "B"}], "status": "x" * 201}, "score.status"),
        ("Arsenal 1 Chelsea 0", "score"),
    ],
)
async def test_a_malformed_box_gets_422_and_changes_nothing(
    seeded: Running, box: object, field: str
) -> None:
    async with seeded.client(seeded.token) as c:
        r = await c.patch(BLOG, json={"score": box})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
    blog = await seeded.store.get_blog(SLUG)
    assert blog.score is None and blog.last_seq == 9


async def test_bodies_that_are_not_json_objects_get_400(seeded: Running) -> None:
    await _with_box(seeded)
    async with seeded.client(seeded.token) as c:
        for content in (b"{not json", b"[0, 1]", b""):
            r = await c.post(SCORE, content=content, headers={"Content-Type": "application/json"})
            assert r.status_code == 400, r.text
    assert (await seeded.store.get_blog(SLUG)).last_seq == 10


async def test_renaming_a_side_keeps_the_goals_counted(seeded: Running) -> None:
    await _with_box(seeded)
    async with seeded.client(seeded.token) as c:
        await c.post(SCORE, json={"side": 0, "by": 2})
        r = await c.patch(
            BLOG, json={"score": {"sides": [{"name": "Arsenal FC"}, {"name": "Chelsea FC"}]}}
        )
        score = r.json()["score"]
        assert score["sides"] == [
            {"name": "Arsenal FC", "score": 2},
            {"name": "Chelsea FC", "score": 0},
        ]
        assert score["status"] == "1st half 12'" and score["kind"] == "sport"
        # Scores given are set as given: a correction after a review.
        r = await c.patch(
            BLOG,
            json={"score": {"sides": [{"name": "Arsenal", "score": 1}, {"name": "Chelsea"}]}},
        )
        assert [s["score"] for s in r.json()["score"]["sides"]] == [1, 0]


async def test_a_header_edit_with_the_score_is_one_blog_updated_event(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        r = await c.patch(BLOG, json={"title": "Arsenal v Chelsea", "score": MATCH})
        assert r.status_code == 200
        events = await _events(c, 9)
    assert [e["type"] for e in events] == ["blog.updated"]
    assert events[0]["blog"]["title"] == "Arsenal v Chelsea"
    assert events[0]["blog"]["score"]["sides"][0]["name"] == "Arsenal"


async def test_taking_the_box_down_is_a_blog_score_event_with_score_null(seeded: Running) -> None:
    await _with_box(seeded)
    async with seeded.client(seeded.token) as c:
        r = await c.patch(BLOG, json={"score": None})
        assert r.status_code == 200 and r.json()["score"] is None
        events = await _events(c, 10)
        assert [e["type"] for e in events] == ["blog.score"]
        assert events[0]["blog"]["score"] is None and events[0]["score_html"] == ""
        r = await c.post(SCORE, json={"side": 0})
        assert r.status_code == 409
    assert (await seeded.store.get_blog(SLUG)).score is None


async def test_contributors_and_outsiders_cannot_touch_the_box(seeded: Running) -> None:
    await _with_box(seeded)
    contributor = await seeded.make_user("contributor", blogs=(SLUG,))
    outsider = await seeded.make_user("editor")
    async with seeded.client(contributor) as c:
        r = await c.post(SCORE, json={"side": 0})
        assert r.status_code == 403 and "contributors cannot change the score box" in r.text
        r = await c.patch(BLOG, json={"score": None})
        assert r.status_code == 403
    async with seeded.client(outsider) as c:
        r = await c.post(SCORE, json={"side": 0})
        assert r.status_code == 403 and "member" in r.json()["error"]["message"]
    async with seeded.client() as c:
        r = await c.post(SCORE, json={"side": 0})
        assert r.status_code == 401
    blog = await seeded.store.get_blog(SLUG)
    assert blog.last_seq == 10 and blog.score is not None
    assert [s.score for s in blog.score.sides] == [0, 0]
    editor = await seeded.make_user("editor", blogs=(SLUG,))
    async with seeded.client(editor) as c:
        assert (await c.post(SCORE, json={"side": 0})).status_code == 200


async def test_the_event_carries_the_box_as_html_for_the_page(seeded: Running) -> None:
    await _with_box(seeded)
    async with seeded.client(seeded.token) as c:
        await c.post(SCORE, json={"side": 0, "status": "2nd half 67'"})
        event = (await _events(c, 10))[0]
    html = event["score_html"]
    assert html.startswith('<section class="score score--sport"')
    assert 'data-text="Arsenal 1, Chelsea 0. 2nd half 67&#39;"' in html
    assert '<span class="score__value">1</span>' in html


@pytest.mark.network
async def test_a_reader_resuming_after_last_event_id_gets_the_score_changes(
    seeded: Running,
) -> None:
    await _with_box(seeded)
    async with sse.connect(seeded.base_url, f"/{SLUG}/live?after=10") as reader:
        async with seeded.client(seeded.token) as c:
            await c.post(SCORE, json={"side": 0})
        seen = await reader.next_event(timeout=1.0)
    assert seen.id == 11 and seen.data is not None and seen.data["type"] == "blog.score"
    async with seeded.client(seeded.token) as c:
        await c.post(SCORE, json={"side": 1})
        await c.post(SCORE, json={"side": 1, "status": "Full time"})
    async with sse.connect(seeded.base_url, f"/{SLUG}/live", last_event_id=seen.id) as reader:
        frames = await reader.events(2)
        assert await reader.nothing_more()
    assert [f.id for f in frames] == [12, 13]
    last = frames[-1].data
    assert last is not None and last["blog"]["score"]["sides"][1]["score"] == 2
    assert last["blog"]["score"]["status"] == "Full time"
    assert "Full time" in last["score_html"]


async def test_the_page_permalink_and_embed_show_the_box_and_follow_it(seeded: Running) -> None:
    async with seeded.client() as c:
        page = (await c.get(f"/{SLUG}")).text
        assert '<div id="score-slot" class="score-slot"></div>' in page
        post_url = (await c.get(f"{BLOG}/posts?limit=1")).json()["posts"][0]["url"]
        await _with_box(seeded)
        async with seeded.client(seeded.token) as w:
            await w.post(SCORE, json={"side": 1, "by": 3, "status": "Half time"})
        for path in (f"/{SLUG}", post_url, f"/{SLUG}/embed"):
            html = (await c.get(path)).text  # the cached pages changed with the seq
            assert 'aria-labelledby="score-title"' in html, path
            names = re.findall(r'<span class="score__name">([^<]*)</span>', html)
            values = re.findall(r'<span class="score__value">([^<]*)</span>', html)
            assert names == ["Arsenal", "Chelsea"] and values == ["0", "3"], path
            assert '<p class="score__status">Half time</p>' in html, path


async def test_hostile_names_reach_the_page_inert(seeded: Running) -> None:
    hostile = '<img src=x onerror="alert(1)">'
    await _with_box(seeded, {"sides": [{"name": hostile}, {"name": "B"}], "status": hostile})
    async with seeded.client() as c:
        html = (await c.get(f"/{SLUG}")).text
    assert "<img src=x" not in html and "&lt;img src=x" in html


def _jsonld(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert found
    return dict(json.loads(found.group(1)))


async def test_a_match_is_a_sports_event_in_the_structured_data(seeded: Running) -> None:
    await _with_box(seeded)
    async with seeded.client(seeded.token) as c:
        await c.post(SCORE, json={"side": 0, "status": "2nd half 67'"})
    async with seeded.client() as c:
        data = _jsonld((await c.get(f"/{SLUG}")).text)
    assert data["@type"] == "LiveBlogPosting"
    assert data["about"] == {
        "@type": "SportsEvent",
        "name": "Arsenal v Chelsea",
        "homeTeam": {"@type": "SportsTeam", "name": "Arsenal"},
        "awayTeam": {"@type": "SportsTeam", "name": "Chelsea"},
        "description": "Arsenal 1, Chelsea 0. 2nd half 67'",
    }


async def test_an_election_box_adds_nothing_made_up_to_the_structured_data(
    seeded: Running,
) -> None:
    await _with_box(
        seeded,
        {"kind": "election", "status": "Polls close in 2 hours",
         "sides": [{"name": "Labour", "score": 326}, {"name": "Conservative", "score": 121}]},
    )  # fmt: skip
    async with seeded.client() as c:
        html = (await c.get(f"/{SLUG}")).text
    assert "about" not in _jsonld(html)
    assert '<h2 id="score-title" class="visually-hidden">Results</h2>' in html
    assert 'data-text="Labour 326, Conservative 121. Polls close in 2 hours"' in html


async def test_the_console_counts_a_goal_with_a_plain_form(seeded: Running) -> None:
    email = await make_person(seeded, "editor", blogs=(SLUG,))
    async with seeded.client() as c:
        csrf = await sign_in(c, email)
        console = (await c.get(f"/newsroom/blogs/{SLUG}")).text
        assert "Add a score box" in console
        form = {"csrf_token": csrf, "action": "save", "home": "Arsenal", "away": "Chelsea",
                "kind": "sport", "status": "Kick-off"}  # fmt: skip
        r = await c.post(f"/newsroom/blogs/{SLUG}/score", data=form)
        assert r.status_code == 303 and r.headers["location"].endswith("?saved=score#score")
        r = await c.post(
            f"/newsroom/blogs/{SLUG}/score",
            data={"csrf_token": csrf, "action": "count", "side": "1", "by": "1"},
        )
        assert r.status_code == 303
        console = (await c.get(f"/newsroom/blogs/{SLUG}")).text
        assert 'aria-label="Add 1 to Chelsea"' in console
        values = re.findall(r"<output[^>]*data-score-value>([^<]*)</output>", console)
        assert values == ["0", "1"]
        # The script's way: the API, with the session and the CSRF header.
        r = await c.post(SCORE, json={"side": 0}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200 and r.json()["score"]["sides"][0]["score"] == 1
        r = await c.post(SCORE, json={"side": 0})
        assert r.status_code == 403  # a cookie without the CSRF token
        # Below zero: the page again, with the reason, and nothing written.
        r = await c.post(
            f"/newsroom/blogs/{SLUG}/score",
            data={"csrf_token": csrf, "action": "count", "side": "0", "by": "-2"},
        )
        assert r.status_code == 409 and "Arsenal has 1" in r.text
        r = await c.post(f"/newsroom/blogs/{SLUG}/score", data={"action": "remove"})
        assert r.status_code == 403
        r = await c.post(
            f"/newsroom/blogs/{SLUG}/score", data={"csrf_token": csrf, "action": "remove"}
        )
        assert r.status_code == 303
    assert (await seeded.store.get_blog(SLUG)).score is None


async def test_contributors_get_no_score_editor(seeded: Running) -> None:
    await _with_box(seeded)
    email = await make_person(seeded, "contributor", blogs=(SLUG,))
    async with seeded.client() as c:
        csrf = await sign_in(c, email)
        console = (await c.get(f"/newsroom/blogs/{SLUG}")).text
        assert 'id="score"' not in console
        r = await c.post(
            f"/newsroom/blogs/{SLUG}/score",
            data={"csrf_token": csrf, "action": "count", "side": "0", "by": "1"},
        )
        assert r.status_code == 403
    blog = await seeded.store.get_blog(SLUG)
    assert blog.score is not None and blog.score.sides[0].score == 0
