"""The node as `dateline serve` runs it, at the edge: which forwarded headers it believes."""

from __future__ import annotations

import pytest

from tests.conftest import Running

SLUG = "xi-putin-moscow"
pytestmark = pytest.mark.network
PROXIED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


async def test_forwarded_headers_are_not_believed_from_a_client_by_default(
    seeded: Running,
) -> None:
    async with seeded.client() as c:
        page = await c.get(f"/{SLUG}", headers=PROXIED)
    assert '<link rel="canonical" href="http://127.0.0.1:' in page.text


@pytest.mark.parametrize("settings_overrides", [{"forwarded_allow_ips": "127.0.0.1"}])
async def test_forwarded_headers_from_a_configured_proxy_are_believed(seeded: Running) -> None:
    async with seeded.client() as c:
        page = await c.get(f"/{SLUG}", headers=PROXIED)
    assert '<link rel="canonical" href="https://127.0.0.1:' in page.text
