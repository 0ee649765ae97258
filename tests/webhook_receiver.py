"""A local webhook receiver and WebSub hub on a free port, so nothing in the tests reaches the
internet. The receiver checks each delivery's signature as docs/api.md tells receivers to, and
can be told to fail (500), to time out (hold the request without answering), or to recover.
`POST /hub` records WebSub pings."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from dateline.outbound.webhooks import verify
from tests.servers import free_port


@dataclass
class Received:
    seq: int
    type: str
    event_id: str
    signed: bool  # the signature verified with the secret the test registered
    body: dict[str, Any]


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    mode: str = "ok"  # "ok" (204), "fail" (500) or "hang" (no answer until told otherwise)
    secret: str = ""
    accepted: list[Received] = field(default_factory=list)  # answered 2xx, in arrival order
    refused: list[int] = field(default_factory=list)  # seqs answered 500
    held: list[int] = field(default_factory=list)  # seqs held without an answer
    pings: list[dict[str, list[str]]] = field(default_factory=list)  # WebSub pings
    slow: list[int] = field(default_factory=list)  # seqs accepted at /slow, 0.4 s each
    _release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}/hook"

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        if mode == "hang":
            self._release.clear()
        else:
            self._release.set()  # let held requests go (their client has given up by now)

    def seqs(self) -> list[int]:
        with self._lock:
            return [r.seq for r in self.accepted]

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.path == "/hub":
                    with receiver._lock:
                        receiver.pings.append(parse_qs(body.decode()))
                    self._answer(204)
                    return
                seq = int(self.headers["Dateline-Event-Seq"])
                if self.path == "/slow":  # a receiver slower than the blog's events
                    time.sleep(0.4)
                    with receiver._lock:
                        receiver.slow.append(seq)
                    self._answer(204)
                    return
                mode = receiver.mode
                if mode == "hang":
                    with receiver._lock:
                        receiver.held.append(seq)
                    receiver._release.wait(30)
                    return  # the connection closes without an answer
                if mode == "fail":
                    with receiver._lock:
                        receiver.refused.append(seq)
                    self._answer(500)
                    return
                signed = verify(
                    receiver.secret,
                    self.headers.get("Dateline-Signature", ""),
                    body,
                    now=time.time(),
                )
                data = json.loads(body)
                with receiver._lock:
                    receiver.accepted.append(
                        Received(
                            seq,
                            self.headers["Dateline-Event-Type"],
                            self.headers["Dateline-Event-Id"],
                            signed,
                            data,
                        )
                    )
                self._answer(204)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
