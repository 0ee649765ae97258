"""The headers every answer carries for the browser's own defences: a Content-Security-Policy
without 'unsafe-inline' for scripts (Dateline's pages load only their own modules; a script that
got into a post's HTML would not run), `X-Content-Type-Options: nosniff` and a Referrer-Policy.

Who may frame what: the reader pages only their own site, the embed any site (that is its
purpose), the console and the JSON nobody."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def same_secret(sent: str, expected: str) -> bool:
    """Whether a token, cookie or signature someone sent is the expected one, in constant time.
    Compared as bytes: headers are read as Latin-1, and hmac.compare_digest refuses (raises on)
    strings with characters outside ASCII, which would turn a forged cookie into a 500."""
    return hmac.compare_digest(sent.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


_READER = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; "
    "connect-src 'self'; font-src 'self'; media-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
)
POLICIES = {
    "reader": _READER.format(ancestors="'self'"),
    "embed": _READER.format(ancestors="*"),
    # The compose box previews a picked image (blob:) before it is uploaded.
    "console": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' https: http: data: blob:; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "data": "default-src 'none'; frame-ancestors 'none'",
}
_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
]
_HEADERS = {
    kind: [(b"content-security-policy", policy.encode()), *_COMMON]
    for kind, policy in POLICIES.items()
}


def with_frames(kind: str, origins: list[str]) -> str:
    """The policy of a `kind` page whose embeds may load frames from `origins`."""
    return POLICIES[kind] + "; frame-src " + " ".join(origins) if origins else POLICIES[kind]


def kind_of(path: str) -> str:
    if path.startswith(("/api/", "/healthz", "/media/", "/static/")) or path.endswith(
        ("/live", "/feed.atom")
    ):
        return "data"
    if path.startswith("/newsroom"):
        return "console"
    if path.endswith("/embed"):
        return "embed"
    return "reader"


class SecurityHeaders:
    """The app's outermost middleware: adds the headers to every answer's start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = _HEADERS[kind_of(scope["path"])]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", ())}
                added = [(n, v) for n, v in extra if n not in present]
                message = {**message, "headers": [*message.get("headers", ()), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
