"""Readers' polls: editors add them to posts, readers vote once per browser without an account,
every vote is counted exactly (on SQLite and PostgreSQL), and readers learn the results from
batched `poll.results` events."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from dateline.bus import open_bus
from dateline.config import Settings
from dateline.exporters.archive import export_archive
from dateline.importers.archive import Archive
from dateline.model import EventType
from dateline.newsroom import Newsroom
from dateline.store import open_store
from tests.conftest import Running

SLUG = "xi-putin-moscow"
POSTS = f"/api/v1/blogs/{SLUG}/posts"
# The in-process client always comes from one address: most tests lift the per-address limit.
UNLIMITED = pytest.mark.parametrize("settings_overrides", [{"poll_votes_per_minute": 0}])


def _later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def _poll(**fields: Any) -> dict[str, Any]:
    return {
        "question": "Will the talks produce a deal?",
        "options": ["Yes", "No", "Too early to say"],
        "closes_at": _later(hours=2),
        **fields,
    }


async def _post_with_poll(running: Running, **poll: Any) -> dict[str, Any]:
    async with running.client(running.token) as c:
        r = await c.post(POSTS, json={"headline": "Your view", "poll": _poll(**poll)})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _vote(c: httpx.AsyncClient, poll: dict[str, Any], option: int) -> httpx.Response:
    return await c.post(poll["vote_url"], json={"option": option})


async def _poll_now(running: Running, post_id: str) -> dict[str, Any]:
    async with running.client() as c:
        r = await c.get(f"{POSTS}/{post_id}")
    assert r.status_code == 200, r.text
    return dict(r.json()["poll"])


async def _results_events(running: Running) -> list[Any]:
    blog = await running.store.get_blog(SLUG)
    assert blog.id is not None
    events = await running.store.events_after(blog.id, 0, limit=100_000)
    return [e for e in events if e.type is EventType.POLL_RESULTS]


async def _wait_for_results(running: Running, total: int, *, closed: bool = False) -> list[Any]:
    for _ in range(100):
        events = await _results_events(running)
        if events:
            last = events[-1].payload["poll"]
            if last["total_votes"] == total and last["closed"] == closed:
                return events
        await asyncio.sleep(0.1)
    raise AssertionError(f"no results event with {total} votes (closed: {closed}) came")


async def test_a_post_written_with_a_poll_carries_it_in_its_json(seeded: Running) -> None:
    post = await _post_with_poll(seeded)
    poll = post["poll"]
    assert poll["question"] == "Will the talks produce a deal?"
    assert [o["text"] for o in poll["options"]] == ["Yes", "No", "Too early to say"]
    assert [o["votes"] for o in poll["options"]] == [0, 0, 0] and poll["total_votes"] == 0
    assert poll["closed"] is False
    assert poll["vote_url"] == f"/{SLUG}/polls/{poll['id']}/vote"
    assert (await _poll_now(seeded, post["id"])) == poll


@pytest.mark.parametrize(
    ("poll", "field"),
    [
        ({"options": ["Only one"]}, "poll.options"),
        ({"options": ["1", "2", "3", "4", "5", "6", "7"]}, "poll.options"),
        ({"options": ["Yes", "yes"]}, "poll"),
        ({"options": ["Yes", ""]}, "poll.options.1"),
        ({"question": ""}, "poll.question"),
        ({"question": "x" * 301}, "poll.question"),
        ({"options": ["Yes", "x" * 201]}, "poll.options.1"),
        ({"closes_at": _later(hours=-1)}, "poll.closes_at"),
        ({"closes_at": _later(days=400)}, "poll.closes_at"),
        ({"closes_at": "2030-01-01T10:00:00"}, "poll.closes_at"),
    ],
)
async def test_a_poll_that_breaks_the_rules_is_refused_and_nothing_is_written(
    seeded: Running, poll: dict[str, Any], field: str
) -> None:
    before = await seeded.store.get_blog(SLUG)
    async with seeded.client(seeded.token) as c:
        r = await c.post(POSTS, json={"headline": "Your view", "poll": _poll(**poll)})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
    after = await seeded.store.get_blog(SLUG)
    assert (after.last_seq, after.post_count) == (before.last_seq, before.post_count)


async def test_a_poll_without_a_closing_time_is_refused(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        poll = {"question": "Deal?", "options": ["Yes", "No"]}
        r = await c.post(POSTS, json={"headline": "Your view", "poll": poll})
    assert r.status_code == 422 and "closes_at" in r.json()["error"]["message"]


async def test_contributors_may_not_add_polls(seeded: Running) -> None:
    token = await seeded.make_user("contributor", blogs=(SLUG,))
    async with seeded.client(token) as c:
        r = await c.post(POSTS, json={"headline": "Mine", "poll": _poll()})
    assert r.status_code == 403 and "polls" in r.json()["error"]["message"]


@UNLIMITED
async def test_n_concurrent_votes_from_n_browsers_count_n(seeded: Running) -> None:
    post = await _post_with_poll(seeded)
    poll = post["poll"]
    n = 40
    browsers = [seeded.client() for _ in range(n)]
    try:
        answers = await asyncio.gather(*(_vote(b, poll, i % 3) for i, b in enumerate(browsers)))
    finally:
        for b in browsers:
            await b.aclose()
    assert [a.status_code for a in answers] == [200] * n
    counted = await _poll_now(seeded, post["id"])
    assert counted["total_votes"] == n
    assert [o["votes"] for o in counted["options"]] == [14, 13, 13]
    assert sum(o["percent"] for o in counted["options"]) == pytest.approx(100, abs=0.2)


@UNLIMITED
async def test_a_browser_votes_once_and_a_second_vote_changes_nothing(seeded: Running) -> None:
    post = await _post_with_poll(seeded)
    poll = post["poll"]
    async with seeded.client() as browser:
        first = await _vote(browser, poll, 0)
        assert first.status_code == 200, first.text
        assert first.json()["poll"]["options"][0]["votes"] == 1
        cookie = first.headers["set-cookie"]
        assert "dateline_voter=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        racing = await asyncio.gather(*(_vote(browser, poll, 1) for _ in range(5)))
    assert {r.status_code for r in racing} == {409}
    assert "already voted" in racing[0].json()["error"]["message"]
    counted = await _poll_now(seeded, post["id"])
    assert [o["votes"] for o in counted["options"]] == [1, 0, 0]
    # The vote is not a change of the post's text: no revision, and no event of its own.
    assert (
        await seeded.store.get_post(await seeded.store.get_blog(SLUG), post["id"])
    ).revision == 1


@UNLIMITED
async def test_a_forged_voter_cookie_is_a_new_voter_not_someone_else(seeded: Running) -> None:
    post = await _post_with_poll(seeded)
    async with seeded.client() as browser:
        assert (await _vote(browser, post["poll"], 0)).status_code == 200
        voter = browser.cookies["dateline_voter"]
    forged = voter.rsplit(".", 1)[0] + "." + "0" * 64
    async with seeded.client(cookies={"dateline_voter": forged}) as other:
        assert (await _vote(other, post["poll"], 1)).status_code == 200
    assert (await _poll_now(seeded, post["id"]))["total_votes"] == 2


@pytest.mark.parametrize("settings_overrides", [{"poll_votes_per_minute": 3}])
async def test_votes_from_one_address_are_limited(seeded: Running) -> None:
    post = await _post_with_poll(seeded)
    answers = []
    for _ in range(4):
        async with seeded.client() as browser:
            answers.append(await _vote(browser, post["poll"], 0))
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[3].headers["retry-after"]) >= 1
    assert "too many poll votes" in answers[3].json()["error"]["message"]
    assert (await _poll_now(seeded, post["id"]))["total_votes"] == 3


@UNLIMITED
async def test_a_vote_sent_from_another_site_is_refused(seeded: Running) -> None:
    post = await _post_with_poll(seeded)
    async with seeded.client() as browser:
        r = await browser.post(
            post["poll"]["vote_url"], data={"option": "0"}, headers={"Origin": "https://evil.test"}
        )
        assert r.status_code == 403
        r = await browser.post(
            post["poll"]["vote_url"], data={"option": "0"}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert r.status_code == 403
        r = await browser.post(
            post["poll"]["vote_url"],
            data={"option": "0"},
            headers={"Origin": seeded.base_url, "Host": seeded.base_url.split("//")[1]},
        )
        assert r.status_code == 303, r.text
    assert (await _poll_now(seeded, post["id"]))["total_votes"] == 1


@UNLIMITED
async def test_the_form_without_javascript_votes_and_goes_back_to_the_post(
    seeded: Running,
) -> None:
    post = await _post_with_poll(seeded)
    poll = post["poll"]
    async with seeded.client() as browser:
        r = await browser.post(poll["vote_url"], data={"option": "2", "post": post["id"]})
        assert r.status_code == 303
        assert r.headers["location"] == f"/{SLUG}/posts/{post['id']}#poll-{poll['id']}"
        again = await browser.post(poll["vote_url"], data={"option": "1", "post": post["id"]})
        assert again.status_code == 409 and "already voted" in again.text
        assert again.headers["content-type"].startswith("text/html")
        none = await browser.post(poll["vote_url"], data={"post": post["id"]})
        assert none.status_code == 400 and "choose one of the options" in none.text
    assert [o["votes"] for o in (await _poll_now(seeded, post["id"]))["options"]] == [0, 0, 1]


@UNLIMITED
async def test_a_vote_for_no_such_option_or_poll_is_refused(seeded: Running) -> None:
    post = await _post_with_poll(seeded)
    async with seeded.client() as browser:
        r = await _vote(browser, post["poll"], 3)
        assert r.status_code == 422 and r.json()["error"]["field"] == "option"
        r = await browser.post(f"/{SLUG}/polls/nosuchpoll/vote", json={"option": 0})
        assert r.status_code == 404
        # The refused vote left no mark: this browser may still vote.
        assert (await _vote(browser, post["poll"], 0)).status_code == 200
    assert (await _poll_now(seeded, post["id"]))["total_votes"] == 1


@UNLIMITED
async def test_while_a_poll_has_no_votes_it_may_change_and_after_only_its_closing_time(
    seeded: Running,
) -> None:
    post = await _post_with_poll(seeded)
    url = f"{POSTS}/{post['id']}"
    async with seeded.client(seeded.token) as editor, seeded.client() as reader:
        r = await editor.patch(url, json={"poll": {"options": ["Yes", "No"]}})
        assert r.status_code == 200, r.text
        assert [o["text"] for o in r.json()["poll"]["options"]] == ["Yes", "No"]
        assert r.json()["revision"] == 1  # a poll is not the post's text
        assert (await _vote(reader, r.json()["poll"], 1)).status_code == 200
        r = await editor.patch(url, json={"poll": {"question": "Will they sign?"}})
        assert r.status_code == 409 and "1 votes" in r.json()["error"]["message"]
        r = await editor.patch(url, json={"poll": None})
        assert r.status_code == 409
        later = _later(hours=5)
        r = await editor.patch(url, json={"poll": {"closes_at": later}})
        assert r.status_code == 200
        assert r.json()["poll"]["closes_at"] == later.replace("+00:00", "Z")[:19] + "Z"
        assert r.json()["poll"]["options"][1]["votes"] == 1
    assert (await _poll_now(seeded, post["id"]))["question"] == "Will the talks produce a deal?"


async def test_a_poll_without_votes_may_be_removed_and_added_by_editing(seeded: Running) -> None:
    post = await _post_with_poll(seeded)
    url = f"{POSTS}/{post['id']}"
    async with seeded.client(seeded.token) as editor:
        r = await editor.patch(url, json={"poll": None})
        assert r.status_code == 200 and r.json()["poll"] is None
        r = await editor.patch(url, json={"poll": {"question": "Deal?"}})
        assert r.status_code == 422 and "needs question, options and closes_at" in r.text
        r = await editor.patch(url, json={"poll": _poll(question="Deal by Friday?")})
        assert r.status_code == 200 and r.json()["poll"]["question"] == "Deal by Friday?"


@UNLIMITED
async def test_a_closed_poll_refuses_votes_and_readers_get_the_final_result(
    seeded: Running,
) -> None:
    post = await _post_with_poll(seeded)
    url = f"{POSTS}/{post['id']}"
    async with seeded.client(seeded.token) as editor, seeded.client() as reader:
        assert (await _vote(reader, post["poll"], 0)).status_code == 200
        r = await editor.patch(url, json={"poll": {"close": True}})
        assert r.status_code == 200 and r.json()["poll"]["closed"] is True
        async with seeded.client() as late:
            r = await _vote(late, post["poll"], 1)
        assert r.status_code == 409 and "closed" in r.json()["error"]["message"]
        r = await editor.patch(url, json={"poll": {"closes_at": _later(hours=1)}})
        assert r.status_code == 409 and "final" in r.json()["error"]["message"]
    events = await _wait_for_results(seeded, 1, closed=True)
    final = events[-1].payload["poll"]
    assert [o["votes"] for o in final["options"]] == [1, 0, 0]
    page = (await seeded.client().get(f"/{SLUG}/posts/{post['id']}")).text
    assert "Final result" in page and 'class="poll__form"' not in page


@UNLIMITED
async def test_a_vote_storm_gives_at_most_one_results_event_a_second_and_the_last_is_exact(
    seeded: Running,
) -> None:
    post = await _post_with_poll(seeded)
    before = await seeded.store.get_blog(SLUG)
    votes = 0
    started = asyncio.get_running_loop().time()
    while asyncio.get_running_loop().time() - started < 3.2:
        batch = [seeded.client() for _ in range(10)]
        answers = await asyncio.gather(*(_vote(b, post["poll"], votes % 2) for b in batch))
        for b in batch:
            await b.aclose()
        assert {a.status_code for a in answers} == {200}
        votes += len(batch)
        await asyncio.sleep(0.05)
    events = await _wait_for_results(seeded, votes)
    assert events[-1].payload["poll"]["total_votes"] == votes
    gaps = [(b.at - a.at).total_seconds() for a, b in itertools.pairwise(events)]
    assert all(gap >= 1.0 for gap in gaps), gaps
    assert len(events) <= 5  # about 3.2 s of votes and the last count
    assert all(e.post_id == post["id"] for e in events)
    totals = [e.payload["poll"]["total_votes"] for e in events]
    assert totals == sorted(totals)
    # Vote counts are not news: the blog's "updated" time did not move.
    assert (await seeded.store.get_blog(SLUG)).updated_at == before.updated_at


@UNLIMITED
async def test_results_events_reach_readers_with_the_poll_html(seeded: Running) -> None:
    post = await _post_with_poll(seeded)
    async with seeded.client() as browser:
        assert (await _vote(browser, post["poll"], 0)).status_code == 200
    await _wait_for_results(seeded, 1)
    async with seeded.client() as c:
        delta = (await c.get(f"/api/v1/blogs/{SLUG}/events", params={"after": 9})).json()
    results = [e for e in delta["events"] if e["type"] == "poll.results"]
    assert results and results[-1]["post_id"] == post["id"] and "post" not in results[-1]
    assert results[-1]["poll"]["options"][0] == {"text": "Yes", "votes": 1, "percent": 100.0}
    assert 'data-poll-id="' + post["poll"]["id"] in results[-1]["html"]
    assert "100% · 1 vote" in results[-1]["html"]


@UNLIMITED
async def test_the_poll_shows_on_the_page_permalink_embed_and_feed(seeded: Running) -> None:
    post = await _post_with_poll(seeded)
    async with seeded.client() as browser:
        assert (await _vote(browser, post["poll"], 1)).status_code == 200
    await _wait_for_results(seeded, 1)
    async with seeded.client() as c:
        page = (await c.get(f"/{SLUG}")).text
        permalink = (await c.get(f"/{SLUG}/posts/{post['id']}")).text
        embed = (await c.get(f"/{SLUG}/embed")).text
        feed = (await c.get(f"/{SLUG}/feed.atom")).text
    for html in (page, permalink, embed):
        assert "Will the talks produce a deal?" in html
        assert 'action="' + post["poll"]["vote_url"] + '"' in html
        assert "100% · 1 vote" in html and '<meter min="0" max="100" value="100.0"' in html
    # The live page's script brings the poll's (static/live.js imports it); the permalink has
    # no live stream and loads it alone.
    assert "/static/live.js" in page and "/static/poll.js" in permalink
    assert "Will the talks produce a deal?" in feed and "100% · 1 vote" in feed
    assert "poll__form" not in feed  # a feed reader cannot vote


@UNLIMITED
async def test_the_console_adds_a_poll_shows_its_results_and_closes_it(seeded: Running) -> None:
    from tests.test_console import make_person, sign_in

    email = await make_person(seeded, "editor", blogs=(SLUG,))
    async with seeded.client() as console:
        csrf = await sign_in(console, email)
        r = await console.post(
            f"/newsroom/blogs/{SLUG}/compose",
            data={
                "csrf_token": csrf, "kind": "published", "headline": "Your view", "body": "",
                "people": "Ed", "poll_question": "Deal by Friday?",
                "poll_options": "Yes\r\nNo\r\n\r\nToo early to say\r\n",
                "poll_closes_local": (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            },
        )  # fmt: skip
        assert r.status_code == 303, r.text
        blog = await seeded.store.get_blog(SLUG)
        post = (await seeded.store.list_posts(blog, limit=1))[0][0]
        assert post.poll is not None and post.poll.question == "Deal by Friday?"
        assert [o.text for o in post.poll.options] == ["Yes", "No", "Too early to say"]
        async with seeded.client() as reader:
            assert (
                await _vote(reader, {"vote_url": f"/{SLUG}/polls/{post.poll.id}/vote"}, 2)
            ).status_code == 200
        editor = (await console.get(f"/newsroom/blogs/{SLUG}/posts/{post.id}")).text
        assert "Too early to say: 1 vote (100%)" in editor and 'name="poll_close"' in editor
        r = await console.post(
            f"/newsroom/blogs/{SLUG}/compose",
            data={"csrf_token": csrf, "kind": "save", "post_id": post.id, "headline": "Your view",
                  "body": "", "people": "Ed", "poll_close": "1",
                  "base_revision": str(post.revision)},
        )  # fmt: skip
        assert r.status_code == 303, r.text
        editor = (await console.get(f"/newsroom/blogs/{SLUG}/posts/{post.id}")).text
        assert "1 vote · closed" in editor and 'name="poll_close"' not in editor
        # A poll missing its closing time is refused with the reason, and the text is kept.
        r = await console.post(
            f"/newsroom/blogs/{SLUG}/compose",
            data={"csrf_token": csrf, "kind": "published", "headline": "Another", "body": "",
                  "people": "Ed", "poll_question": "Q?", "poll_options": "A\nB"},
        )  # fmt: skip
        assert r.status_code == 422 and "closes_at" in r.text and 'value="Q?"' in r.text


@UNLIMITED
async def test_the_store_keeps_no_address_and_no_cookie_of_a_voter(seeded: Running) -> None:
    import sqlalchemy as sa

    from dateline.store import schema

    post = await _post_with_poll(seeded)
    async with seeded.client() as browser:
        assert (await _vote(browser, post["poll"], 1)).status_code == 200
        voter = browser.cookies["dateline_voter"].rsplit(".", 1)[0]
    assert [c.name for c in schema.poll_votes.c] == ["poll_id", "voter", "option"]
    async with seeded.store.engines.reading() as conn:
        rows = (await conn.execute(sa.select(schema.poll_votes))).all()
    assert len(rows) == 1 and rows[0].option == 1
    kept = rows[0].voter
    assert len(kept) == 64 and voter not in kept and "127.0.0.1" not in kept


@UNLIMITED
async def test_ended_coverage_takes_no_more_votes_and_shows_its_polls_final(
    seeded: Running,
) -> None:
    post = await _post_with_poll(seeded)
    async with seeded.client(seeded.token) as editor:
        r = await editor.patch(f"/api/v1/blogs/{SLUG}", json={"status": "ended"})
        assert r.status_code == 200, r.text
    async with seeded.client() as browser:
        r = await _vote(browser, post["poll"], 0)
        assert r.status_code == 409 and "coverage of this blog has ended" in r.text
        page = (await browser.get(f"/{SLUG}/posts/{post['id']}")).text
    assert "Final result" in page and 'class="poll__form"' not in page
    assert (await _poll_now(seeded, post["id"]))["total_votes"] == 0


async def test_a_poll_s_words_are_text_everywhere_never_markup(seeded: Running) -> None:
    attack = '<img src=x onerror="alert(1)">'
    post = await _post_with_poll(seeded, question=f"Deal? {attack}", options=[attack, "No"])
    async with seeded.client() as c:
        for path in (
            f"/{SLUG}",
            f"/{SLUG}/posts/{post['id']}",
            f"/{SLUG}/embed",
            f"/{SLUG}/feed.atom",
        ):
            html = (await c.get(path)).text
            assert "Deal?" in html and "<img src=x" not in html, path
        assert (await c.get(f"{POSTS}/{post['id']}")).json()["poll"]["options"][0]["text"] == attack


@UNLIMITED
async def test_an_archive_keeps_a_poll_and_its_counts(seeded: Running, tmp_path: Path) -> None:
    post = await _post_with_poll(seeded)
    poll = post["poll"]
    for option in (0, 0, 1):
        async with seeded.client() as reader:  # each its own browser
            assert (await _vote(reader, poll, option)).status_code == 200
    # The counts are announced within a second of the votes: export once they have been, so
    # that the archive and this blog's log hold the same announcements.
    announced = await _wait_for_results(seeded, 3)
    out = tmp_path / "archive"
    out.mkdir()
    await export_archive(seeded.newsroom, None, SLUG, out, folder=True)
    elsewhere = await open_store(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    try:
        newsroom = Newsroom(
            elsewhere, open_bus("memory://"), settings=Settings(media_dir=str(tmp_path / "m"))
        )
        with Archive(out) as archive:
            restored = await newsroom.restore_archive(archive, slug="copy")
        copy = await elsewhere.get_post(restored.blog, post["id"])
        assert copy.poll is not None
        assert copy.poll.question == poll["question"]
        assert [(o.text, o.votes) for o in copy.poll.options] == [
            ("Yes", 2),
            ("No", 1),
            ("Too early to say", 0),
        ]
        # The log is the archive's: nothing more is announced for counts that came with it.
        events = await elsewhere.events_after(restored.blog.id or 0, 0, limit=100_000)
        restored_results = [e for e in events if e.type is EventType.POLL_RESULTS]
        assert len(restored_results) == len(announced)
    finally:
        await elsewhere.close()
