"""Embeds: pasted URLs become cards from the providers' snapshots, fetched safely from a local
stand-in for the providers (tests/embed_provider.py), never from the real ones."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dateline.bus import open_bus
from dateline.config import Settings
from dateline.embeds import cards, fetch, providers, snapshot
from dateline.embeds.fetch import FetchFailed, Guard
from dateline.errors import ImportFailed, Invalid
from dateline.exporters.archive import export_archive
from dateline.importers.archive import Archive
from dateline.model import EmbedState
from dateline.newsroom import Newsroom
from dateline.newsroom.embeds import sources
from dateline.store import open_store
from tests.conftest import Running
from tests.embed_provider import Provider
from tests.test_console import make_person, sign_in

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    server = Provider()
    yield server
    server.close()


def _sources(provider: Provider, timeout: float = 5.0) -> snapshot.Sources:
    return sources(provider.endpoints(), f"127.0.0.1:{provider.port}", timeout, "", "test-token")


# One URL per provider, the provider's name, and where the reader's click loads its frame.
CASES = [
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "YouTube",
     "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
    ("https://youtu.be/dQw4w9WgXcQ", "YouTube", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
    ("https://vimeo.com/76979871", "Vimeo", "https://player.vimeo.com/video/76979871?dnt=1"),
    ("https://x.com/Interior/status/463440424141459456", "X",
     "https://platform.twitter.com/embed/Tweet.html?id=463440424141459456&dnt=true"),
    ("https://twitter.com/Interior/status/463440424141459456", "Twitter",
     "https://platform.twitter.com/embed/Tweet.html?id=463440424141459456&dnt=true"),
    ("https://www.instagram.com/p/CqAbCdEfGh1/", "Instagram",
     "https://www.instagram.com/p/CqAbCdEfGh1/embed/"),
    ("https://www.tiktok.com/@reporter/video/6718335390845095173", "TikTok",
     "https://www.tiktok.com/embed/v2/6718335390845095173"),
    ("https://www.facebook.com/ministry/posts/12345", "Facebook",
     "https://www.facebook.com/plugins/post.php?href=https%3A%2F%2Fwww.facebook.com%2Fministry%2Fposts%2F12345"),
    ("https://bsky.app/profile/emily.example/post/3jzn6g7ixgq2y", "Bluesky",
     "https://embed.bsky.app/embed/did:plc:vjug55kidv6sye7ykr5faxxn/app.bsky.feed.post/3jzn6g7ixgq2y"),
    ("https://soundcloud.com/podcast/the-summit", "SoundCloud",
     "https://w.soundcloud.com/player/?visual=true&url=https%3A%2F%2Fapi.soundcloud.com%2Ftracks%2F293"),
    ("https://open.spotify.com/episode/4rOoJ6Egrf8K2IrywzwOMk", "Spotify",
     "https://open.spotify.com/embed/episode/4rOoJ6Egrf8K2IrywzwOMk"),
    ("https://public.flourish.studio/visualisation/1337/", "Flourish",
     "https://flo.uri.sh/visualisation/1337/embed"),
    ("https://datawrapper.dwcdn.net/RnWgL/9/", "Datawrapper", "https://datawrapper.dwcdn.net/RnWgL/9/"),
    ("https://t.me/kremlinpress/123", "Telegram", "https://t.me/kremlinpress/123?embed=1"),
    ("https://www.threads.net/@reporter/post/C4abc", "Threads",
     "https://www.threads.net/@reporter/post/C4abc/embed"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("url", "name", "frame"), CASES, ids=[c[1] + str(i) for i, c in enumerate(CASES)]
)
async def test_each_provider_gives_a_snapshot_and_a_privacy_enhanced_frame(
    provider: Provider, url: str, name: str, frame: str
) -> None:
    assert providers.provider_for(url).name == name
    taken = await snapshot.take(url, _sources(provider))
    embed = taken.embed
    assert embed.state is EmbedState.READY
    assert embed.provider == name
    assert embed.frame == frame
    assert providers.frame_allowed(url, embed.frame)
    assert embed.title or embed.text or embed.author
    assert embed.fetched_at is not None
    assert "<" not in embed.text  # the provider's HTML is reduced to its words


async def test_a_social_post_keeps_its_words_and_author(provider: Provider) -> None:
    taken = await snapshot.take(
        "https://x.com/Interior/status/463440424141459456", _sources(provider)
    )
    assert taken.embed.author == "US Dept of the Interior"
    assert "Sunsets don't get much better than this one." in taken.embed.text
    assert "widgets.js" not in taken.embed.text


async def test_a_video_comes_with_its_thumbnail_bytes(provider: Provider) -> None:
    taken = await snapshot.take("https://www.youtube.com/watch?v=dQw4w9WgXcQ", _sources(provider))
    assert taken.thumbnail is not None and taken.thumbnail.startswith(b"\x89PNG")


async def test_mastodon_on_any_instance_is_asked_of_its_own_api(provider: Provider) -> None:
    url = f"{provider.base}/@reporter/109"
    assert providers.provider_for(url).name == "Mastodon"
    taken = await snapshot.take(url, _sources(provider))
    # The instance's own provider_name ("newsroom.social") is not the consent key.
    assert taken.embed.provider == "Mastodon"
    assert taken.embed.author == "A reporter"
    # The instance's own frame of the status, and only over https on the status's own host.
    assert taken.embed.frame is None
    mastodon = providers.provider_for("https://newsroom.social/@reporter/109")
    html = '<iframe src="https://newsroom.social/@reporter/109/embed"></iframe>'
    found = providers.frame_for(mastodon, "https://newsroom.social/@reporter/109", html)
    assert found == "https://newsroom.social/@reporter/109/embed"
    elsewhere = '<iframe src="https://evil.example/@reporter/109/embed"></iframe>'
    assert providers.frame_for(mastodon, "https://newsroom.social/@reporter/109", elsewhere) is None
    assert any(p.startswith("/api/oembed?url=") for p in provider.asked)


async def test_a_plain_page_becomes_an_open_graph_card(provider: Provider) -> None:
    taken = await snapshot.take(f"{provider.base}/article", _sources(provider))
    embed = taken.embed
    assert (embed.provider, embed.title, embed.kind) == (
        "The Moscow Times",
        "What Xi and Putin want",
        "link",
    )
    assert embed.text == "An analysis of the summit." and embed.frame is None
    assert embed.published == "2023-03-20T10:00:00Z"
    assert taken.thumbnail is not None  # its relative og:image, read from the same host


@pytest.mark.parametrize(
    ("name", "retry", "says"),
    [
        ("fail500", True, "answered 500"),
        ("slow", True, "no complete answer within 1 s"),
        ("huge", False, "over the limit of 524288"),
        ("trickle", False, "over the limit of 524288 bytes"),
        ("local", False, "private or reserved address (127.0.0.1)"),
        ("private", False, "private or reserved address (10.0.0.1)"),
        ("metadata", False, "private or reserved address (169.254.169.254)"),
    ],
)
async def test_network_failures_are_refused_and_say_whether_to_retry(
    provider: Provider, name: str, retry: bool, says: str
) -> None:
    # The provider's endpoint is trusted (the operator set it); where it sends us is not.
    found = _sources(provider, timeout=1.0)
    url = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    endpoints = {**found.endpoints, "youtube": f"{provider.base}/oembed/{name}"}
    with pytest.raises(FetchFailed) as failed:
        await snapshot.take(url, snapshot.Sources(found.guard, endpoints, "", ""))
    assert failed.value.retry is retry
    assert says in str(failed.value)


@pytest.mark.parametrize(
    "url",
    ["http://10.1.2.3/story", "http://169.254.169.254/latest", "http://localhost:9/x",
     "http://[::1]:9/x", "http://100.64.0.1/x", "ftp://example.org/x"],
)  # fmt: skip
async def test_a_pasted_url_at_a_private_address_is_never_fetched(url: str) -> None:
    with pytest.raises(FetchFailed) as failed:
        await snapshot.take(url, snapshot.Sources(Guard(timeout=2)))
    assert failed.value.retry is False


async def test_an_endpoint_not_in_the_provider_list_is_not_asked() -> None:
    # A page advertising its oEmbed answer on another host is read for its own tags instead.
    with pytest.raises(FetchFailed, match="not a known oEmbed provider"):
        await snapshot._oembed(
            "https://www.youtube.com/watch?v=x", providers.Provider("YouTube", "https://evil.example/o"),
            "https://evil.example/o", snapshot.Sources(), frozenset({"www.youtube.com"}),
        )  # fmt: skip


async def test_a_hostile_answer_is_reduced_to_escaped_words(provider: Provider) -> None:
    found = _sources(provider)
    endpoints = {**found.endpoints, "spotify": f"{provider.base}/oembed/hostile"}
    url = "https://open.spotify.com/episode/4rOoJ6Egrf8K2IrywzwOMk"
    taken = await snapshot.take(url, snapshot.Sources(found.guard, endpoints, "", ""))
    embed = taken.embed
    assert embed.frame is None  # an iframe from a host that is not Spotify's player
    assert embed.author_url is None and taken.thumbnail is None
    assert "alert(4)" not in embed.text
    html = cards.card(embed)
    assert "<script" not in html and "<img src=x" not in html and "javascript:" not in html
    assert "&lt;img src=x onerror=" in html


# -- through the API and the pages ----------------------------------------------------------


def _overrides(provider: Provider) -> dict[str, Any]:
    return {
        "embed_endpoints": provider.endpoints(),
        "embed_trusted_hosts": f"127.0.0.1:{provider.port}",
        "embed_meta_token": "test-token",
        "embed_retry_seconds": 0.2,
        "embed_timeout_seconds": 2.0,
    }


@pytest.fixture
def settings_overrides(provider: Provider) -> dict[str, Any]:
    return _overrides(provider)


async def _blog(running: Running, slug: str = "summit") -> None:
    async with running.client(running.token) as c:
        r = await c.post("/api/v1/blogs", json={"slug": slug, "title": "Summit", "timezone": "UTC"})
        assert r.status_code == 201, r.text


async def _wait_for(
    running: Running, post_id: str, state: str, slug: str = "summit"
) -> dict[str, Any]:
    async with running.client(running.token) as c:
        for _ in range(100):
            post = (await c.get(f"/api/v1/blogs/{slug}/posts/{post_id}")).json()
            if post["embeds"] and all(e["state"] == state for e in post["embeds"]):
                return dict(post)
            await asyncio.sleep(0.1)
    raise AssertionError(f"the embeds never became {state}: {post['embeds']}")


BODY = "Footage from Moscow:\n\nhttps://www.youtube.com/watch?v=dQw4w9WgXcQ\n\nMore soon, see https://example.org/a-long-link-in-a-sentence."


async def test_a_post_publishes_at_once_and_its_embed_upgrades_live(running: Running) -> None:
    await _blog(running)
    async with running.client(running.token) as c:
        r = await c.post("/api/v1/blogs/summit/posts", json={"headline": "Video", "body": BODY})
        assert r.status_code == 201, r.text
        post = r.json()
        assert [e["state"] for e in post["embeds"]] == ["pending"]
        assert 'data-state="pending"' in post["body_html"]
        seq = post["seq"]
        ready = await _wait_for(running, post["id"], "ready")
        embed = ready["embeds"][0]
        assert embed["frame"] == "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"
        assert re.fullmatch(r"/media/[0-9a-f]{32}\.png", embed["thumbnail"])
        assert (await c.get(embed["thumbnail"])).status_code == 200
        assert ready["revision"] == 1  # a snapshot is not an edit
        # The words around it are the writer's; the bare URL in a sentence became a link.
        assert '<a href="https://example.org/a-long-link-in-a-sentence"' in ready["body_html"]
        events = (await c.get(f"/api/v1/blogs/summit/events?after={seq}")).json()["events"]
        assert [e["type"] for e in events] == ["post.updated"]
        assert events[0]["post"]["embeds"][0]["state"] == "ready"


async def test_a_provider_that_is_down_is_asked_again_until_it_answers(
    running: Running, provider: Provider
) -> None:
    await _blog(running)
    provider.down = True
    try:
        async with running.client(running.token) as c:
            r = await c.post(
                "/api/v1/blogs/summit/posts", json={"body": "https://vimeo.com/76979871"}
            )
            post_id = r.json()["id"]
        blog = await running.store.get_blog("summit")
        for _ in range(100):
            # From the store: readers' copies change only when the card does.
            stored = await running.store.get_post(blog, post_id)
            if stored.embeds[0].attempts >= 2:
                break
            await asyncio.sleep(0.1)
        assert stored.embeds[0].state is EmbedState.PENDING
        assert stored.embeds[0].attempts >= 2
        assert stored.embeds_due is not None
    finally:
        provider.down = False
    ready = await _wait_for(running, post_id, "ready")
    assert ready["embeds"][0]["frame"] == "https://player.vimeo.com/video/76979871?dnt=1"


async def test_a_refused_fetch_leaves_a_link_card_for_good(running: Running) -> None:
    await _blog(running)
    async with running.client(running.token) as c:
        r = await c.post("/api/v1/blogs/summit/posts", json={"body": "http://10.0.0.5/internal"})
        failed = await _wait_for(running, r.json()["id"], "failed")
        assert failed["embeds"][0]["attempts"] == 1
        assert 'href="http://10.0.0.5/internal"' in failed["body_html"]


async def test_too_many_embeds_in_one_post_are_refused(running: Running) -> None:
    await _blog(running)
    body = "\n".join(f"https://example.org/{i}" for i in range(21))
    async with running.client(running.token) as c:
        r = await c.post("/api/v1/blogs/summit/posts", json={"body": body})
        assert r.status_code == 422
        assert "21 URLs alone on a line" in r.json()["error"]["message"]
        assert (await c.get("/api/v1/blogs/summit")).json()["post_count"] == 0


async def test_the_page_feed_and_json_carry_the_snapshot_and_no_third_party_request(
    running: Running,
) -> None:
    await _blog(running)
    urls = [c[0] for c in CASES[::3]]
    async with running.client(running.token) as c:
        r = await c.post("/api/v1/blogs/summit/posts", json={"body": "\n\n".join(urls)})
        post = await _wait_for(running, r.json()["id"], "ready")
        page = await c.get("/summit")
        feed = (await c.get("/summit/feed.atom")).text
    html = page.text
    # Nothing on the page is loaded from another origin before a reader asks.
    for attr in re.findall(r'\s(?:src|srcset)="([^"]*)"', html):
        assert attr.startswith("/"), attr
    assert "<iframe" not in html and '<script src="http' not in html
    assert html.count('class="embed ') == len(urls)
    policy = page.headers["content-security-policy"]
    frames = re.search(r"frame-src ([^;]*)", policy)
    assert frames is not None
    expected = {providers.frame_origin(e["frame"]) for e in post["embeds"] if e["frame"]}
    assert set(frames.group(1).split()) == expected
    assert "<script" not in feed and "iframe" not in feed
    assert "Sunsets" in feed or "Xi arrives in Moscow" in feed


async def test_the_console_preview_shows_the_card_before_publishing(running: Running) -> None:
    await _blog(running)
    html = await running.newsroom.preview_html(
        running.admin, "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    )
    assert "Xi arrives in Moscow" in html and 'class="embed__thumb"' in html
    # The save that follows uses the snapshot just taken: the post is complete at once.
    async with running.client(running.token) as c:
        r = await c.post(
            "/api/v1/blogs/summit/posts",
            json={"body": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"},
        )
        assert r.json()["embeds"][0]["state"] == "ready"


async def test_the_preview_waits_only_on_the_provider_not_on_our_own_thumbnail_work(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The preview's short limit is for a slow provider: the first thumbnail of a node starts
    its image worker (a second or more on a busy machine), which must not turn a snapshot that
    arrived in time into a pending card."""
    from dateline.newsroom import embeds as cases

    await _blog(running)
    monkeypatch.setattr(cases, "_PREVIEW_SECONDS", 0.5)  # the provider answers in milliseconds
    html = await running.newsroom.preview_html(
        running.admin, "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    )
    assert 'data-state="pending"' not in html
    assert "Xi arrives in Moscow" in html and 'class="embed__thumb"' in html


async def test_the_console_preview_route_shows_the_card_to_a_contributor(running: Running) -> None:
    await _blog(running)
    email = await make_person(running, "contributor", blogs=("summit",))
    async with running.client() as c:
        csrf = await sign_in(c, email)
        r = await c.post(
            "/newsroom/preview",
            json={"body": "Look:\n\nhttps://x.com/Interior/status/463440424141459456"},
            headers={"X-CSRF-Token": csrf},
        )
        html = r.json()["html"]
    assert '<figure class="embed embed--rich" data-provider="X"' in html
    assert "Sunsets don't get much better" in html.replace("&#x27;", "'")


async def test_an_edit_keeps_the_snapshot_of_a_url_it_keeps(running: Running) -> None:
    await _blog(running)
    async with running.client(running.token) as c:
        r = await c.post("/api/v1/blogs/summit/posts", json={"body": "https://vimeo.com/76979871"})
        post = await _wait_for(running, r.json()["id"], "ready")
        r = await c.patch(
            f"/api/v1/blogs/summit/posts/{post['id']}",
            json={
                "body": "Now with words.\n\nhttps://vimeo.com/76979871",
                "base_revision": post["revision"],
            },
        )
        assert r.json()["embeds"] == post["embeds"]


async def test_an_archive_keeps_the_snapshots_and_their_thumbnails(
    running: Running, tmp_path: Path
) -> None:
    await _blog(running)
    async with running.client(running.token) as c:
        r = await c.post("/api/v1/blogs/summit/posts", json={"body": CASES[0][0]})
    made = await _wait_for(running, r.json()["id"], "ready")
    out = tmp_path / "archive"
    out.mkdir()
    await export_archive(running.newsroom, None, "summit", out, folder=True)
    media = tmp_path / "restored-media"
    elsewhere = await open_store(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    try:
        # Restored where no provider can be reached: the snapshot comes from the archive.
        newsroom = Newsroom(
            elsewhere, open_bus("memory://"), settings=Settings(media_dir=str(media), embeds=False)
        )
        with Archive(out) as archive:
            restored = await newsroom.restore_archive(archive, slug="summit-copy")
        post = await elsewhere.get_post(restored.blog, made["id"])
        assert [e.to_json() for e in post.embeds] == made["embeds"]
        assert (media / made["embeds"][0]["thumbnail"].removeprefix("/media/")).is_file()
        assert 'data-frame="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"' in post.body_html
    finally:
        await elsewhere.close()


async def test_an_archive_embed_with_a_foreign_frame_is_refused(
    running: Running, tmp_path: Path
) -> None:
    await _blog(running)
    async with running.client(running.token) as c:
        r = await c.post("/api/v1/blogs/summit/posts", json={"body": CASES[0][0]})
    await _wait_for(running, r.json()["id"], "ready")
    out = tmp_path / "archive"
    out.mkdir()
    await export_archive(running.newsroom, None, "summit", out, folder=True)
    posts = out / "posts.jsonl"
    posts.write_text(
        posts.read_text().replace(
            "https://www.youtube-nocookie.com/embed/", "https://phish.example/"
        )
    )
    manifest = json.loads((out / "archive.json").read_text())
    for entry in manifest.get("files", []):
        if entry.get("name") == "posts.jsonl":
            entry["sha256"] = hashlib.sha256(posts.read_bytes()).hexdigest()
            entry["size"] = posts.stat().st_size
    (out / "archive.json").write_text(json.dumps(manifest))
    elsewhere = await open_store(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    try:
        newsroom = Newsroom(
            elsewhere, open_bus("memory://"), settings=Settings(media_dir=str(tmp_path / "m"))
        )
        with Archive(out) as archive, pytest.raises((ImportFailed, Invalid)) as refused:
            await newsroom.restore_archive(archive, slug="summit-copy")
        assert "has a frame from 'https://phish.example/" in str(refused.value)
        assert await elsewhere.list_blogs() == []
    finally:
        await elsewhere.close()


@pytest.mark.parametrize("line", ["https://[oops/", "http://a]b/", "https://example.org:99999/x"])
async def test_a_malformed_url_alone_on_a_line_stays_text(running: Running, line: str) -> None:
    await _blog(running)
    async with running.client(running.token) as c:
        r = await c.post("/api/v1/blogs/summit/posts", json={"body": f"hello\n\n{line}\n"})
        assert r.status_code == 201, r.text
        assert r.json()["embeds"] == [] and line in r.json()["body"]
        assert "<p>hello</p>" in r.json()["body_html"]


@pytest.mark.parametrize(
    "address",
    ["64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:1", "2002:a9fe:a9fe::1", "::127.0.0.1", "fec0::1",
     "::ffff:10.0.0.1", "100.64.0.1", "169.254.169.254", "fe80::1%eth0"],
)  # fmt: skip
async def test_addresses_that_lead_inside_are_not_public(address: str) -> None:
    # IPv6 forms that carry an IPv4 address (NAT64, 6to4, IPv4-compatible) are judged by it.
    assert not fetch._public(address)


async def test_public_addresses_are_public() -> None:
    assert fetch._public("93.184.216.34") and fetch._public("2606:2800:220:1::1")
    assert fetch._public("64:ff9b::5db8:d822")  # NAT64 of 93.184.216.34


async def test_an_endpoints_host_is_trusted_for_oembed_answers_only(provider: Provider) -> None:
    # No embed_trusted_hosts: the local provider is trusted as a configured endpoint only.
    only = sources(provider.endpoints(), "", 5.0, "", "")
    taken = await snapshot.take("https://www.youtube.com/watch?v=dQw4w9WgXcQ", only)
    assert taken.embed.title == "Xi arrives in Moscow"
    assert taken.thumbnail is None  # the answer's thumbnail is on a private address: not fetched
    with pytest.raises(FetchFailed, match="private or reserved address"):
        await snapshot.take(f"{provider.base}/article", only)  # a pasted URL on that host
