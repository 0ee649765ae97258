"""Signed webhooks and WebSub, end to end against a local receiver and hub: every event arrives,
in seq order, with a valid signature, through failures, timeouts and recoveries, a retry window
that runs out, and a node killed mid-delivery; only a blog's editors and admins manage them;
URLs at private addresses are refused."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from dateline.outbound.webhooks import signature, verify
from dateline.store import schema as t
from tests.conftest import Running
from tests.nodes import Node, cli
from tests.test_console import make_person, sign_in
from tests.webhook_receiver import Receiver

SLUG = "xi-putin-moscow"
HOOKS = f"/api/v1/blogs/{SLUG}/webhooks"
POSTS = f"/api/v1/blogs/{SLUG}/posts"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.start()
    yield found
    found.stop()


@pytest.fixture
def give_up() -> float:
    """Seconds a webhook may fail before it is paused (a test that waits for it sets less)."""
    return 60.0


@pytest.fixture
def settings_overrides(receiver: Receiver, give_up: float) -> dict[str, Any]:
    return {
        "webhook_allowed_hosts": receiver.host,
        "webhook_timeout_seconds": 1.0,
        "webhook_retry_seconds": 0.1,
        "webhook_give_up_seconds": give_up,
        "websub_hub": f"http://{receiver.host}/hub",
        "public_url": "https://live.example.org",
    }


async def until(check: Callable[[], Awaitable[bool] | bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within the time allowed")


async def register(c: httpx.AsyncClient, receiver: Receiver) -> dict[str, Any]:
    r = await c.post(HOOKS, json={"url": receiver.url})
    assert r.status_code == 201, r.text
    hook: dict[str, Any] = r.json()
    receiver.secret = hook["secret"]
    return hook


async def publish(c: httpx.AsyncClient, n: int, label: str = "post") -> list[int]:
    seqs = []
    for i in range(n):
        r = await c.post(POSTS, json={"headline": f"{label} {i}", "body": "Text."})
        assert r.status_code == 201, r.text
        seqs.append(r.json()["seq"])
    return seqs


def assert_all_arrived(receiver: Receiver, seqs: list[int]) -> None:
    assert receiver.seqs() == seqs  # each once, in order, none skipped
    for got in receiver.accepted:
        assert got.signed, f"seq {got.seq}: the signature does not verify"
        assert got.event_id == f"{SLUG}/{got.seq}" == got.body["id"]
        assert got.body["blog"] == SLUG
        assert got.body["event"]["seq"] == got.seq and got.body["event"]["type"] == got.type


async def test_every_event_arrives_in_order_and_signed_through_failures_and_timeouts(
    seeded: Running, receiver: Receiver
) -> None:
    async with seeded.client(seeded.token) as c:
        hook = await register(c, receiver)
        assert hook["delivered_seq"] == 9 and hook["state"] == "active"  # from now on
        sent = await publish(c, 3, "first")
        await until(lambda: len(receiver.seqs()) == 3)

        receiver.set_mode("fail")
        sent += await publish(c, 2, "while failing")
        await until(lambda: len(receiver.refused) >= 3)
        receiver.set_mode("hang")
        await until(lambda: len(receiver.held) >= 2, seconds=20)
        failing = (await c.get(f"{HOOKS}/{hook['id']}")).json()
        assert failing["pending"] >= 1 and failing["attempts"] >= 4
        assert failing["failing_since"] and "no answer within 1 s" in failing["last_error"]

        receiver.set_mode("ok")
        sent += await publish(c, 2, "after")
        await until(lambda: len(receiver.seqs()) == len(sent))
        assert_all_arrived(receiver, sent)
        assert receiver.accepted[3].type == "post.published"

        done = (await c.get(f"{HOOKS}/{hook['id']}")).json()
        assert done["delivered_seq"] == sent[-1] and done["pending"] == 0
        assert done["attempts"] == 0 and done["last_error"] is None
        log = done["deliveries"]  # newest first
        assert log[0]["seq"] == sent[-1] and log[0]["ok"] and log[0]["status"] == 204
        statuses = {d["status"] for d in log if not d["ok"]}
        assert 500 in statuses and None in statuses
        assert any("no answer within" in (d["error"] or "") for d in log)


async def test_a_slow_receiver_never_holds_up_the_others(
    seeded: Running, receiver: Receiver
) -> None:
    async with seeded.client(seeded.token) as c:
        await register(c, receiver)
        r = await c.post(HOOKS, json={"url": f"http://{receiver.host}/slow"})
        assert r.status_code == 201, r.text
        sent = await publish(c, 30, "burst")  # the slow one needs 12 s for these
        await until(lambda: len(receiver.seqs()) == 30)
        started = time.monotonic()
        sent += await publish(c, 1, "while the slow one catches up")
        await until(lambda: len(receiver.seqs()) == 31, seconds=20)
        took, slow_so_far = time.monotonic() - started, len(receiver.slow)
        assert took < 5, f"the fast receiver waited {took:.1f} s for the slow one"
        assert slow_so_far < 30, "the slow receiver had already caught up: no test"
        assert_all_arrived(receiver, sent)
        await until(lambda: receiver.slow == sent, seconds=30)  # in order, all of them


@pytest.mark.parametrize("give_up", [1.5])
async def test_a_webhook_failing_past_its_window_is_paused_and_resumes_losing_nothing(
    seeded: Running, receiver: Receiver
) -> None:
    receiver.set_mode("fail")
    async with seeded.client(seeded.token) as c:
        hook = await register(c, receiver)
        sent = await publish(c, 3)
        path = f"{HOOKS}/{hook['id']}"
        await until(lambda: _state(c, path, "paused"))
        paused = (await c.get(path)).json()
        assert "paused after failing for" in paused["paused_reason"]
        assert "answered 500" in paused["paused_reason"] and paused["delivered_seq"] == 9
        refused = len(receiver.refused)
        await asyncio.sleep(0.5)
        assert len(receiver.refused) == refused  # paused: nothing more is sent

        # The console tells the blog's editors, on the blog's own page.
        async with seeded.client() as browser:
            await sign_in(browser, await make_person(seeded, "editor", blogs=(SLUG,)))
            page = (await browser.get(f"/newsroom/blogs/{SLUG}")).text
        assert f"Webhook <code>{receiver.url}</code> is paused: paused after failing for" in page

        receiver.set_mode("ok")
        sent += await publish(c, 1, "while paused")
        r = await c.patch(path, json={"state": "active"})
        assert r.status_code == 200 and r.json()["state"] == "active"
        assert r.json()["paused_reason"] is None
        await until(lambda: len(receiver.seqs()) == len(sent))
        assert_all_arrived(receiver, sent)


async def test_an_editor_pauses_and_deletes_a_webhook(seeded: Running, receiver: Receiver) -> None:
    async with seeded.client(seeded.token) as c:
        hook = await register(c, receiver)
        path = f"{HOOKS}/{hook['id']}"
        r = await c.patch(path, json={"state": "paused"})
        assert r.json()["state"] == "paused" and r.json()["paused_reason"] == "paused by Admin"
        await publish(c, 2)
        await asyncio.sleep(1.2)
        assert receiver.seqs() == []
        listed = (await c.get(HOOKS)).json()["webhooks"]
        assert [(h["id"], h["pending"]) for h in listed] == [(hook["id"], 2)]
        assert "secret" not in listed[0] and "secret" not in (await c.get(path)).json()
        assert (await c.delete(path)).status_code == 204
        assert (await c.get(path)).status_code == 404
        assert (await c.get(HOOKS)).json() == {"webhooks": []}


async def test_only_the_blogs_editors_and_admins_manage_its_webhooks(
    seeded: Running, receiver: Receiver
) -> None:
    contributor = await seeded.make_user("contributor", blogs=(SLUG,))
    outsider = await seeded.make_user("editor")
    editor = await seeded.make_user("editor", blogs=(SLUG,))
    async with seeded.client(contributor) as c:
        r = await c.post(HOOKS, json={"url": receiver.url})
        assert r.status_code == 403 and "ask an editor" in r.json()["error"]["message"]
        assert (await c.get(HOOKS)).status_code == 403
    async with seeded.client(outsider) as c:
        r = await c.post(HOOKS, json={"url": receiver.url})
        assert r.status_code == 403 and "not a member" in r.json()["error"]["message"]
    async with seeded.client() as c:
        assert (await c.post(HOOKS, json={"url": receiver.url})).status_code == 401
    async with seeded.store.engines.reading() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(t.webhooks)) == 0
    async with seeded.client(editor) as c:
        hook = await register(c, receiver)
    async with seeded.client(contributor) as c:
        path = f"{HOOKS}/{hook['id']}"
        assert (await c.patch(path, json={"state": "paused"})).status_code == 403
        assert (await c.delete(path)).status_code == 403
        assert (await c.get(path)).status_code == 403
    async with seeded.client(seeded.token) as c:
        assert (await c.get(path)).json()["state"] == "active"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://127.0.0.1/hook", "private or reserved address"),
        ("https://localhost:8443/hook", "private or reserved address"),
        ("https://169.254.169.254/latest/meta-data/", "private or reserved address"),
        ("https://[::1]/hook", "private or reserved address"),
        ("https://10.0.0.7/hook", "private or reserved address"),
        ("http://example.org/hook", "https only"),
        ("ftp://example.org/hook", "starts with https://"),
        ("https://user:pw@example.org/hook", "user name or password"),
        ("not a url", "starts with https://"),
    ],
)
async def test_urls_at_private_addresses_or_without_https_are_refused(
    seeded: Running, url: str, message: str
) -> None:
    async with seeded.client(seeded.token) as c:
        r = await c.post(HOOKS, json={"url": url})
    assert r.status_code == 422, r.text
    assert message in r.json()["error"]["message"] and r.json()["error"]["field"] == "url"
    async with seeded.store.engines.reading() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(t.webhooks)) == 0


def test_a_signature_verifies_only_for_its_body_secret_and_time() -> None:
    body = b'{"id": "b/1"}'
    header = signature("whsec_x", 1_700_000_000, body)
    assert verify("whsec_x", header, body, now=1_700_000_100)
    assert not verify("whsec_y", header, body, now=1_700_000_100)
    assert not verify("whsec_x", header, body + b" ", now=1_700_000_100)
    assert not verify("whsec_x", header, body, now=1_700_000_000 + 301)  # a replay, later
    assert not verify("whsec_x", "v1=00", body, now=1_700_000_000)


async def test_the_feed_names_the_hub_and_changes_are_pinged_coalesced(
    seeded: Running, receiver: Receiver
) -> None:
    async with seeded.client(seeded.token) as c:
        feed = (await c.get(f"/{SLUG}/feed.atom")).text
        topic = f"https://live.example.org/{SLUG}/feed.atom"
        assert f'<link rel="hub" href="http://{receiver.host}/hub"/>' in feed
        assert f'<link rel="self" type="application/atom+xml" href="{topic}"/>' in feed
        await publish(c, 5, "burst")
        await until(lambda: len(receiver.pings) >= 1)
        await asyncio.sleep(1.5)
    assert receiver.pings[0] == {"hub.mode": ["publish"], "hub.url": [topic]}
    assert 1 <= len(receiver.pings) <= 2  # five changes in well under a second: one ping or two


async def _state(c: httpx.AsyncClient, path: str, state: str) -> bool:
    return bool((await c.get(path)).json()["state"] == state)


async def test_editors_manage_webhooks_in_the_console_and_contributors_cannot(
    seeded: Running, receiver: Receiver
) -> None:
    editor = await make_person(seeded, "editor", blogs=(SLUG,))
    contributor = await make_person(seeded, "contributor", blogs=(SLUG,))
    page_path = f"/newsroom/blogs/{SLUG}/webhooks"
    async with seeded.client() as browser:
        csrf = await sign_in(browser, editor)
        r = await browser.post(page_path, data={"url": "https://10.1.2.3/", "csrf_token": csrf})
        assert r.status_code == 422 and "private or reserved address" in r.text
        r = await browser.post(page_path, data={"url": receiver.url, "csrf_token": csrf})
        assert r.status_code == 201, r.text
        shown = re.search(r'<code id="new-secret">([^<]+)</code>', r.text)
        assert shown is not None
        receiver.secret = shown.group(1)
        found = re.search(r'id="webhook-(\d+)"', r.text)
        assert found is not None
        hook = f"{page_path}/{found.group(1)}"
        async with seeded.client(seeded.token) as c:
            sent = await publish(c, 1)
        await until(lambda: len(receiver.seqs()) == 1)
        assert_all_arrived(receiver, sent)
        page = (await browser.get(page_path)).text
        assert receiver.secret not in page  # shown once
        assert f"Delivered up to event {sent[0]}" in page and "204 ✓" in page
        assert "Webhooks</a> (1)" in (await browser.get(f"/newsroom/blogs/{SLUG}")).text

        r = await browser.post(hook, data={"action": "pause", "csrf_token": csrf})
        assert r.status_code == 303
        assert "paused by The editor" in (await browser.get(page_path)).text
        r = await browser.post(hook, data={"action": "resume", "csrf_token": csrf})
        assert r.status_code == 303 and "paused by" not in (await browser.get(page_path)).text
        r = await browser.post(hook, data={"action": "pause"})  # no CSRF token
        assert r.status_code == 403

    async with seeded.client() as browser:
        csrf = await sign_in(browser, contributor)
        assert (await browser.get(page_path)).status_code == 403
        r = await browser.post(page_path, data={"url": receiver.url, "csrf_token": csrf})
        assert r.status_code == 403
        r = await browser.post(hook, data={"action": "delete", "csrf_token": csrf})
        assert r.status_code == 403
        assert "/webhooks" not in (await browser.get(f"/newsroom/blogs/{SLUG}")).text
    async with seeded.store.engines.reading() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(t.webhooks)) == 1

    async with seeded.client() as browser:
        csrf = await sign_in(browser, editor)
        r = await browser.post(hook, data={"action": "delete", "csrf_token": csrf})
        assert r.status_code == 303 and "No webhooks yet." in (await browser.get(page_path)).text


@pytest.mark.network
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_nothing_is_lost_when_the_node_is_killed_mid_delivery(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    db = database_url
    cli("migrate", db=db)
    token = cli(
        "user", "create", "ed@example.org", "--name", "Ed", "--role", "admin", "--token", db=db
    ).strip().splitlines()[-1]  # fmt: skip
    env = {
        "DATELINE_WEBHOOK_ALLOWED_HOSTS": receiver.host,
        "DATELINE_WEBHOOK_TIMEOUT_SECONDS": "1",
        "DATELINE_WEBHOOK_RETRY_SECONDS": "0.1",
    }
    node = Node(db, "memory://", tmp_path / "node.log", env=env)
    try:
        async with httpx.AsyncClient(
            base_url=node.base, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as c:
            r = await c.post("/api/v1/blogs", json={"slug": SLUG, "title": "Restart"})
            assert r.status_code == 201, r.text
            await register(c, receiver)
            sent = await publish(c, 2, "before")
            await until(lambda: len(receiver.seqs()) == 2)
            receiver.set_mode("hang")
            sent += await publish(c, 3, "during")
            await until(lambda: len(receiver.held) >= 1)
            await asyncio.to_thread(node.kill)  # in the middle of a delivery, holding its lease
            receiver.set_mode("ok")
            await asyncio.to_thread(node.start_again)
            sent += await publish(c, 2, "after")
            # The dead node's lease runs out (2 × timeout + 10 s), then everything arrives.
            await until(lambda: len(receiver.seqs()) == len(sent), seconds=40)
        assert_all_arrived(receiver, sent)
    finally:
        node.stop()
