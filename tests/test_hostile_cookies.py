"""Cookies and tokens are compared in constant time; a crafted one with characters outside ASCII
(headers are read as Latin-1) is a wrong one, refused like any other, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Running

SLUG = "xi-putin-moscow"
pytestmark = pytest.mark.asyncio


async def test_a_non_ascii_session_cookie_is_no_session(seeded: Running) -> None:
    async with seeded.client() as c:
        r = await c.get("/newsroom/", headers={"Cookie": b"dateline_session=abc.\xe9\xe9"})
    assert r.status_code in (200, 303)  # the sign-in page, or a redirect to it


async def test_a_non_ascii_csrf_token_is_refused(seeded: Running) -> None:
    async with seeded.client() as c:
        r = await c.post(
            "/newsroom/preview",
            json={"body": "x"},
            headers={"Cookie": b"dateline_session=abc.\xe9", "X-CSRF-Token": b"\xe9\xe9"},
        )
    assert r.status_code in (401, 403)


async def test_a_non_ascii_login_form_token_is_refused(seeded: Running) -> None:
    async with seeded.client() as c:
        r = await c.post(
            "/newsroom/login",
            content="csrf_token=%C3%A9&email=a%40b.c&password=x",
            headers={
                "Cookie": b"dateline_login_csrf=\xe9\xe9",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
    assert r.status_code == 403


async def test_a_non_ascii_voter_cookie_is_a_new_voter(seeded: Running) -> None:
    async with seeded.client(seeded.token) as c:
        poll = {
            "question": "Deal?",
            "options": ["Yes", "No"],
            "closes_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
        }
        r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": "View", "poll": poll})
        assert r.status_code == 201, r.text
        url = r.json()["poll"]["vote_url"]
    async with seeded.client() as reader:
        r = await reader.post(url, json={"option": 0}, headers={"Cookie": b"dateline_voter=a.\xe9"})
    assert r.status_code == 200, r.text
