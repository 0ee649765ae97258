"""A local stand-in for the embed providers, on a free port: nothing in the tests calls the real
ones. It answers with each provider's documented oEmbed response shape (YouTube, Vimeo, X,
Instagram, TikTok, Facebook, Bluesky, SoundCloud, Spotify, Flourish, Datawrapper, a Mastodon
instance), serves pages with Open Graph tags (Telegram, Threads, a plain article), a thumbnail,
and the network's failures: a slow answer, a 500, an oversized answer, redirects to loopback,
private and link-local addresses.

`endpoints()` is the `embed_endpoints` setting that points Dateline at it."""

from __future__ import annotations

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from PIL import Image


def _png(width: int = 480, height: int = 360) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


_THUMB = _png()


def _answers(base: str) -> dict[str, dict[str, Any]]:
    thumb = f"{base}/thumb.png"
    return {
        "youtube": {
            "type": "video", "version": "1.0", "title": "Xi arrives in Moscow",
            "author_name": "CNN", "author_url": "https://www.youtube.com/@CNN",
            "provider_name": "YouTube", "provider_url": "https://www.youtube.com/",
            "thumbnail_url": thumb, "thumbnail_width": 480, "thumbnail_height": 360,
            "width": 200, "height": 113,
            "html": '<iframe width="200" height="113" src="https://www.youtube.com/embed/'
                    'dQw4w9WgXcQ?feature=oembed" frameborder="0" allowfullscreen></iframe>',
        },
        "vimeo": {
            "type": "video", "version": "1.0", "title": "Moscow at night",
            "author_name": "A filmmaker", "author_url": "https://vimeo.com/filmmaker",
            "provider_name": "Vimeo", "thumbnail_url": thumb, "width": 640, "height": 360,
            "html": '<iframe src="https://player.vimeo.com/video/76979871?h=8272103f6e" '
                    'width="640" height="360"></iframe>',
        },
        "x": {
            "type": "rich", "version": "1.0", "url": "https://twitter.com/Interior/status/1",
            "author_name": "US Dept of the Interior", "author_url": "https://twitter.com/Interior",
            "provider_name": "Twitter", "width": 550, "height": None, "cache_age": "3153600000",
            "html": '<blockquote class="twitter-tweet"><p lang="en" dir="ltr">Sunsets don&#39;t '
                    'get much better than this one.</p>&mdash; US Dept of the Interior '
                    '(@Interior) <a href="https://twitter.com/Interior/status/1">May 5, 2014</a>'
                    '</blockquote>\n<script async src="https://platform.twitter.com/widgets.js" '
                    'charset="utf-8"></script>',
        },
        "instagram": {
            "type": "rich", "version": "1.0", "title": "A photo from Red Square",
            "author_name": "photographer", "provider_name": "Instagram", "width": 658,
            "thumbnail_url": thumb,
            "html": '<blockquote class="instagram-media">A photo from Red Square</blockquote>'
                    '<script async src="//www.instagram.com/embed.js"></script>',
        },
        "tiktok": {
            "type": "video", "version": "1.0", "title": "Crowds in Moscow",
            "author_name": "Reporter", "author_url": "https://www.tiktok.com/@reporter",
            "provider_name": "TikTok", "thumbnail_url": thumb, "width": "100%", "height": "100%",
            "html": '<blockquote class="tiktok-embed" data-video-id="6718335390845095173">'
                    '</blockquote> <script async src="https://www.tiktok.com/embed.js"></script>',
        },
        "facebook": {
            "type": "rich", "version": "1.0", "author_name": "Ministry",
            "provider_name": "Facebook", "width": 552,
            "html": '<div class="fb-post">The ministry said the talks went on.</div>'
                    '<script async src="https://connect.facebook.net/en_US/sdk.js"></script>',
        },
        "bluesky": {
            "type": "rich", "version": "1.0", "author_name": "Emily", "provider_name": "Bluesky Social",
            "width": 600, "height": None, "author_url": "https://bsky.app/profile/emily.example",
            "html": '<blockquote class="bluesky-embed" data-bluesky-uri="at://did:plc:vjug55kidv'
                    '6sye7ykr5faxxn/app.bsky.feed.post/3jzn6g7ixgq2y" data-bluesky-cid="bafy"><p>'
                    'The summit began at noon.</p>&mdash; Emily</blockquote><script async '
                    'src="https://embed.bsky.app/static/embed.js"></script>',
        },
        "soundcloud": {
            "type": "rich", "version": 1.0, "title": "Podcast: the summit",
            "author_name": "A podcast", "provider_name": "SoundCloud", "thumbnail_url": thumb,
            "width": "100%", "height": 400,
            "html": '<iframe width="100%" height="400" scrolling="no" frameborder="no" '
                    'src="https://w.soundcloud.com/player/?visual=true&amp;url=https%3A%2F%2F'
                    'api.soundcloud.com%2Ftracks%2F293"></iframe>',
        },
        "spotify": {
            "type": "rich", "version": "1.0", "title": "Summit briefing",
            "provider_name": "Spotify", "thumbnail_url": thumb, "width": 456, "height": 152,
            "html": '<iframe style="border-radius: 12px" width="100%" height="152" src="https://'
                    'open.spotify.com/embed/episode/4rOoJ6Egrf8K2IrywzwOMk"></iframe>',
        },
        "flourish": {
            "type": "rich", "version": "1.0", "title": "Trade between China and Russia",
            "provider_name": "Flourish", "thumbnail_url": thumb, "width": 700, "height": 575,
            "html": '<iframe src="https://flo.uri.sh/visualisation/1337/embed" width="700" '
                    'height="575"></iframe>',
        },
        "datawrapper": {
            "type": "rich", "version": "1.0", "title": "Gas exports, 2010–2022",
            "provider_name": "Datawrapper", "width": 600, "height": 400,
            "html": '<iframe title="Gas exports" src="https://datawrapper.dwcdn.net/RnWgL/9/" '
                    'width="600" height="400"></iframe>',
        },
        "hostile": {
            "type": "rich", "version": "1.0", "title": '<img src=x onerror="alert(1)">Title',
            "author_name": '"><script>alert(2)</script>', "author_url": "javascript:alert(3)",
            "provider_name": "Spotify", "thumbnail_url": "file:///etc/passwd",
            "html": '<iframe src="https://evil.example/phish"></iframe><script>alert(4)</script>',
        },
        "mastodon": {
            "type": "rich", "version": "1.0", "title": "New status by reporter",
            "author_name": "A reporter", "author_url": f"{base}/@reporter",
            "provider_name": "newsroom.social", "width": 400,
            "html": f'<iframe src="{base}/@reporter/109/embed" class="mastodon-embed" '
                    'width="400"></iframe><script src="/embed.js" async="async"></script>',
        },
    }  # fmt: skip


_PAGES = {
    "/tg/kremlinpress/123": (
        '<meta property="og:title" content="Kremlin press office">'
        '<meta property="og:description" content="Talks have started in the Kremlin.">'
        '<meta property="og:image" content="{base}/thumb.png">'
    ),
    "/threads/@reporter/post/C4abc": (
        '<meta property="og:title" content="Reporter (@reporter) on Threads">'
        '<meta property="og:description" content="Crowds outside the Kremlin.">'
    ),
    "/article": (
        '<meta property="og:site_name" content="The Moscow Times">'
        '<meta property="og:title" content="What Xi and Putin want">'
        '<meta property="og:description" content="An analysis of the summit.">'
        '<meta property="og:image" content="/thumb.png">'
        '<meta property="article:published_time" content="2023-03-20T10:00:00Z">'
    ),
}


class Provider:
    """The server: `down` makes every oEmbed answer a 503 (a provider's outage)."""

    def __init__(self) -> None:
        self.down = False
        self.asked: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.asked.append(self.path)
                outer.answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def endpoints(self) -> str:
        failures = ["fail500", "slow", "huge", "trickle", "local", "private", "metadata"]
        names = [*_answers(self.base), *failures]
        parts = [f"{name}={self.base}/oembed/{name}" for name in names if name != "mastodon"]
        parts += [f"twitter={self.base}/oembed/x"]
        parts += [f"telegram={self.base}/tg", f"threads={self.base}/threads"]
        return ",".join(parts)

    def answer(self, h: BaseHTTPRequestHandler) -> None:
        path, _, query = h.path.partition("?")
        asked = parse_qs(query)
        if path == "/thumb.png":
            return self._send(h, 200, _THUMB, "image/png")
        if path in _PAGES:
            page = f"<html><head>{_PAGES[path].format(base=self.base)}</head><body>…</body></html>"
            return self._send(h, 200, page.encode(), "text/html; charset=utf-8")
        name = path.removeprefix("/oembed/")
        if path == "/api/oembed":
            name = "mastodon"
        if self.down:
            return self._send(h, 503, b"down", "text/plain")
        if name == "fail500":
            return self._send(h, 500, b"oops", "text/plain")
        if name == "slow":
            time.sleep(3)
            return self._send(h, 200, b"{}", "application/json")
        if name == "huge":
            return self._send(h, 200, b'{"title": "' + b"x" * 2_000_000 + b'"}', "application/json")
        if name == "trickle":  # no Content-Length: the size is only known by reading
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Connection", "close")
            h.end_headers()
            for _ in range(80):
                h.wfile.write(b"x" * 10_000)
            return None
        targets = {
            "local": "http://127.0.0.1:1/admin",
            "private": "http://10.0.0.1/oembed",
            "metadata": "http://169.254.169.254/latest/meta-data/",
        }
        if name in targets:
            h.send_response(302)
            h.send_header("Location", targets[name])
            h.send_header("Content-Length", "0")
            h.end_headers()
            return None
        answers = _answers(self.base)
        if name not in answers or not asked.get("url"):
            return self._send(h, 404, b"not found", "text/plain")
        return self._send(h, 200, json.dumps(answers[name]).encode(), "application/json")

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, kind: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", kind)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
