"""Fetching a live blog page to import (`dateline import https://… --format jsonld`).

Only http:// and https:// addresses; at most five redirects (each to http or https); the whole
download bounded in time (`timeout` for connecting and for each read, and the body stops being
read once `timeout` has passed since the start, so a server that trickles bytes cannot hold the
import: at worst about twice `timeout` in all) and in size (`max_bytes` of the decoded body:
a larger Content-Length is refused before reading, a longer body once it passes the limit).
Compressed bodies are accepted as gzip or deflate only, whose expansion is bounded; another
Content-Encoding (such as br, which may expand a thousandfold per read) is refused.

The text is decoded with the charset of the Content-Type header, else of the page's own
`<meta charset>`, else UTF-8; bytes that do not decode become U+FFFD.

Every failure (an address that is not http(s), DNS, refused connection, TLS, timeout, too many
redirects, a status other than 2xx, too large) is an `ImportFailed` that says which.
Proxies are taken from the environment (HTTPS_PROXY, NO_PROXY…), as curl does.
"""

from __future__ import annotations

import codecs
import re
import time
from urllib.parse import urlsplit

import httpx

from dateline.errors import ImportFailed

MAX_REDIRECTS = 5
_ENCODINGS = ("", "identity", "gzip", "x-gzip", "deflate")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)


def fetch_page(url: str, *, max_bytes: int = 20_000_000, timeout: float = 20.0) -> str:
    try:
        parts = urlsplit(url.strip())
        scheme, host = parts.scheme.lower(), parts.hostname
    except ValueError:
        scheme, host = "", None
    if scheme not in ("http", "https") or not host:
        raise ImportFailed(f"only http:// and https:// pages can be fetched, not {url[:200]!r}")
    deadline = time.monotonic() + timeout
    try:
        with (
            httpx.Client(
                follow_redirects=True,
                max_redirects=MAX_REDIRECTS,
                timeout=httpx.Timeout(timeout),
                headers={
                    "User-Agent": "Dateline-importer (+https://github.com/dateline)",
                    "Accept": "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.5",
                    "Accept-Encoding": "gzip, deflate",
                },
            ) as client,
            client.stream("GET", url.strip()) as response,
        ):
            where = str(response.url)
            if not response.is_success:
                raise ImportFailed(
                    f"{where} answered {response.status_code} {response.reason_phrase}".strip()
                )
            encoding = response.headers.get("content-encoding", "").strip().lower()
            if encoding not in _ENCODINGS:
                raise ImportFailed(
                    f"{where} sent its page as {encoding!r}; only gzip and deflate are read"
                )
            declared = response.headers.get("content-length", "").strip()
            if declared.isdigit() and int(declared) > max_bytes:  # compressed, it only grows
                raise ImportFailed(_too_large(where, max_bytes))
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise ImportFailed(_too_large(where, max_bytes))
                if time.monotonic() > deadline:
                    raise ImportFailed(f"{where} took more than {timeout:g} s to send its page")
            charset = response.charset_encoding
    except httpx.TimeoutException:
        raise ImportFailed(f"{url[:200]} did not answer within {timeout:g} s") from None
    except httpx.TooManyRedirects:
        raise ImportFailed(f"{url[:200]} redirects more than {MAX_REDIRECTS} times") from None
    except httpx.UnsupportedProtocol as exc:
        raise ImportFailed(
            f"{url[:200]} redirects to an address that is not http(s): {exc}"
        ) from None
    except httpx.ConnectError as exc:
        raise ImportFailed(f"could not connect to {host}: {exc or type(exc).__name__}") from None
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, ValueError, OSError) as exc:
        raise ImportFailed(f"fetching {url[:200]} failed: {exc or type(exc).__name__}") from None
    return _decode(bytes(body), charset)


def _too_large(where: str, max_bytes: int) -> str:
    return f"{where} is larger than {max_bytes:,} bytes; save the page and import the file"


def _decode(body: bytes, charset: str | None) -> str:
    if charset is None and not body.startswith(codecs.BOM_UTF8):
        match = _META_CHARSET.search(body[:4096])
        charset = match[1].decode("ascii") if match else None
    try:
        codec = codecs.lookup(charset or "utf-8").name
    except LookupError:
        codec = "utf-8"
    if codec == "utf-8" and body.startswith(codecs.BOM_UTF8):
        codec = "utf-8-sig"
    return body.decode(codec, errors="replace")


__all__ = ["MAX_REDIRECTS", "fetch_page"]
