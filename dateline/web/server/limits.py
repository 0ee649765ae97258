"""The node's limits at the connection, for when readers reach it directly (one machine, no proxy
in front): uvicorn's httptools protocol, with

* a cap on the request line and headers together (`max_header_bytes`, 431 beyond) and on the
  number of headers (`max_headers`, 431 beyond), checked as the bytes arrive, so one huge header
  costs the event loop a few reads, not seconds;
* a deadline for the headers (`header_timeout_seconds`): a connection that sends nothing, or
  dribbles its headers, is answered 408 and closed (a keep-alive connection idle after a
  response is closed by uvicorn's `timeout_keep_alive`, `idle_timeout_seconds`, run.py);
* a cap on connections still sending their headers from one address, and on connections in all
  (`max_connections`, never above the process's open-file limit): beyond them a connection is
  closed at once, keeping the descriptors for everyone else. New live streams are refused
  earlier, with 503 (`max_live_readers`), so the newsroom and the API keep room.

It subclasses uvicorn's protocol (private to uvicorn, pinned in pyproject.toml); tests in
tests/test_server.py fail if uvicorn changes what it relies on."""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import Counter
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from dateline.config import Settings

log = logging.getLogger("dateline.server")

# Connections one address may hold open while they have not finished their headers.
SLOW_PER_ADDRESS = 1024
_RESERVE_FDS = 128  # for the database, Redis, files and the listening socket
_warned: list[bool] = []  # once per process


class _HeadTooLarge(Exception):
    pass


def _response(status: bytes, message: str) -> bytes:
    body = message.encode()
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    max_header_bytes = 65_536
    max_headers = 100
    header_timeout = 10.0
    max_connections = 25_000
    # Connections per address still sending their headers (shared by every connection).
    slow: ClassVar[Counter[str]] = Counter()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = False
        self._head_bytes = 0
        self._header_count = 0
        self._too_large = ""  # why the request's head was refused, once it was
        self._head_size = 0
        self._refused = False
        self._deadline: asyncio.TimerHandle | None = None
        self._address = ""

    # -- the connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = self.client[0] if self.client else ""
        if len(self.connections) > self.max_connections:
            transport.abort()  # the descriptors are everyone's: this one goes at once
            return
        if self.slow[self._address] >= SLOW_PER_ADDRESS:
            transport.abort()
            return
        self._begin_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_head()
        super().connection_lost(exc)

    def _begin_head(self) -> None:
        if self._in_head:
            return
        self._in_head, self._head_bytes, self._header_count, self._head_size = True, 0, 0, 0
        self.slow[self._address] += 1
        self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _end_head(self) -> None:
        if not self._in_head:
            return
        self._in_head = False
        self.slow[self._address] -= 1
        if self.slow[self._address] <= 0:
            del self.slow[self._address]
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _refuse(self, status: bytes, message: str) -> None:
        self._end_head()
        self._refused = True
        if not self.transport.is_closing():
            self.transport.write(_response(status, message))
            self.transport.close()

    def _too_slow(self) -> None:
        self._deadline = None
        if self._in_head:
            self._refuse(b"408 Request Timeout", "the request's headers took too long")

    # -- the bytes ----------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # a few more bytes that were on their way
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # The headers are complete once the parser says so; until then they are counted, and
        # a block larger than the limit is refused (what was fed with it cost one read).
        if self._in_head and self._head_bytes > self.max_header_bytes:
            self._refuse(
                b"431 Request Header Fields Too Large", "the request's headers are too large"
            )

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._refuse(b"431 Request Header Fields Too Large", self._too_large)
            return
        self._end_head()
        super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begin_head()

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        # Counted here too: a whole request can arrive in one read, headers and all.
        self._header_count += 1
        self._head_size += len(name) + len(value) + 4
        if self._header_count > self.max_headers:
            self._too_large = "the request has too many headers"
        elif self._head_size > self.max_header_bytes:
            self._too_large = "the request's headers are too large"
        if self._too_large:
            raise _HeadTooLarge  # the parser stops; uvicorn answers through send_400_response
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._end_head()
        super().on_headers_complete()


def open_file_limit() -> int:
    """Raise the soft limit on open files to the hard one; the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def guarded_protocol(settings: Settings) -> type[GuardedHttpToolsProtocol]:
    """The protocol class, with `settings`' limits; connections capped below the open-file
    limit (less a reserve for the database and files). The class itself is configured (not a
    copy made here), so that uvicorn's worker processes, which import it by name, can do the
    same with the settings they read (run.app_from_environment)."""
    fds = open_file_limit()
    room = max(64, fds - _RESERVE_FDS)
    cap = min(settings.max_connections, room) if settings.max_connections else room
    if settings.max_connections > room and not _warned:
        _warned.append(True)
        log.warning(
            "max_connections is %d, but this process may open %d files: holding at most %d "
            "connections (raise the limit with `ulimit -n` or LimitNOFILE= in systemd)",
            settings.max_connections, fds, cap,
        )  # fmt: skip
    protocol = GuardedHttpToolsProtocol
    protocol.max_header_bytes = settings.max_header_bytes
    protocol.max_headers = settings.max_headers
    protocol.header_timeout = settings.header_timeout_seconds
    protocol.max_connections = cap
    return protocol
