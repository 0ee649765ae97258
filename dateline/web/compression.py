"""Compression of the answers the app renders per request (the cached ones carry their own
encodings, web/cache.py), with the Vary header named once."""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import Message, Receive, Scope, Send


class GZip(GZipMiddleware):
    """Starlette's gzip, except that each name in Vary is sent once. The render cache names
    `Accept-Encoding` itself, and Starlette adds it again to a large body it passes through
    uncompressed (a client without gzip): `Vary: Accept-Encoding, Accept-Encoding`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return

        async def once(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = vary_once(message.get("headers", []))
            await send(message)

        await super().__call__(scope, receive, once)


def vary_once(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` with every Vary header merged into one, each name once (names compare
    without regard to case; the first spelling is kept)."""
    names: dict[bytes, bytes] = {}
    others = []
    for name, value in headers:
        if name.lower() != b"vary":
            others.append((name, value))
            continue
        for token in value.split(b","):
            if token.strip():
                names.setdefault(token.strip().lower(), token.strip())
    if not names:
        return others
    return [*others, (b"vary", b", ".join(names.values()))]
