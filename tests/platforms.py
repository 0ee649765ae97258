"""A local stand-in for Telegram's Bot API and Slack's Web API, on a free port in a thread of its
own, recording every call: what the reporter inputs send (sendMessage, chat.postMessage) and the
file endpoints they download from (getFile and /file/bot…/PATH; Slack's private file URLs, which
need the bot token).

Payload builders below follow the platforms' documented shapes: Telegram's `Update`
(https://core.telegram.org/bots/api#update) and Slack's `event_callback`, `url_verification` and
slash command requests (https://api.slack.com/apis/events-api, /interactivity/slash-commands)."""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

from PIL import Image

TELEGRAM_TOKEN = "123456:TEST-telegram-token"
TELEGRAM_SECRET = "telegram-webhook-secret-0123456789"
SLACK_TOKEN = "xoxb-test-slack-token"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0001"


def png(width: int = 640, height: int = 480, color: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


@dataclass
class Platforms:
    """The fake's state: files it serves and calls it received."""

    port: int = 0
    telegram_files: dict[str, bytes] = field(default_factory=dict)  # file_id → bytes
    slack_files: dict[str, bytes] = field(default_factory=dict)  # path → bytes
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(9000))
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def said(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [params for name, params in self.calls if name == method]

    def texts(self, method: str) -> list[str]:
        return [str(p.get("text", "")) for p in self.said(method)]

    def record(self, name: str, params: dict[str, Any]) -> None:
        with self.lock:
            self.calls.append((name, params))

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)


def _handler(state: Platforms) -> type[BaseHTTPRequestHandler]:
    bot = f"/bot{TELEGRAM_TOKEN}/"
    files = f"/file/bot{TELEGRAM_TOKEN}/"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, data: Any, status: int = 200) -> None:
            self._send(status, json.dumps(data).encode())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            params = json.loads(self.rfile.read(length) or b"{}")
            if self.path.startswith(bot):
                method = self.path.removeprefix(bot)
                state.record(method, params)
                if method == "sendMessage":
                    sent = {"message_id": state.next_id(), "chat": {"id": params["chat_id"]}}
                    return self._json({"ok": True, "result": sent})
                if method == "getFile":
                    file_id = params["file_id"]
                    if file_id not in state.telegram_files:
                        return self._json({"ok": False, "description": "file not found"}, 400)
                    found = {"file_id": file_id, "file_path": f"photos/{file_id}.png"}
                    return self._json({"ok": True, "result": found})
            if self.path == "/api/chat.postMessage":
                if self.headers.get("Authorization") != f"Bearer {SLACK_TOKEN}":
                    return self._json({"ok": False, "error": "invalid_auth"})
                state.record("chat.postMessage", params)
                return self._json({"ok": True, "ts": f"{time.time():.6f}"})
            self._json({"ok": False, "error": "unknown_method"}, 404)

        def do_GET(self) -> None:
            if self.path.startswith(files):
                file_id = self.path.removeprefix(files).removeprefix("photos/")[: -len(".png")]
                state.record("telegram.file", {"file_id": file_id})
                data = state.telegram_files.get(file_id)
                return self._send(200, data, "image/png") if data else self._send(404, b"")
            if self.path.startswith("/files/"):
                if self.headers.get("Authorization") != f"Bearer {SLACK_TOKEN}":
                    return self._send(403, b"")
                state.record("slack.file", {"path": self.path})
                data = state.slack_files.get(self.path)
                return self._send(200, data, "image/png") if data else self._send(404, b"")
            self._send(404, b"")

    return Handler


def start_platforms() -> tuple[Platforms, ThreadingHTTPServer]:
    state = Platforms()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server


# -- Telegram's updates ----------------------------------------------------------------------

_update_ids = itertools.count(500_000)
_message_ids = itertools.count(100)


def telegram_update(
    text: str | None = None,
    *,
    user_id: int = 1111111,
    update_id: int | None = None,
    photo: str | None = None,
    caption: str | None = None,
    reply_to: int | None = None,
) -> dict[str, Any]:
    """An `Update` with a private-chat `message`, as Telegram documents it."""
    sender = {
        "id": user_id,
        "is_bot": False,
        "first_name": "Maria",
        "username": "mkostenko",
        "language_code": "en",
    }
    message: dict[str, Any] = {
        "message_id": next(_message_ids),
        "from": sender,
        "chat": {"id": user_id, "first_name": "Maria", "username": "mkostenko", "type": "private"},
        "date": int(time.time()),
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"offset": 0, "length": length, "type": "bot_command"}]
    if photo is not None:
        # Telegram sends every size it made, smallest first.
        message["photo"] = [
            {"file_id": f"{photo}-s", "file_unique_id": "s1", "width": 90, "height": 67,
             "file_size": 1200},
            {"file_id": photo, "file_unique_id": "s2", "width": 640, "height": 480,
             "file_size": 40_000},
        ]  # fmt: skip
        if caption is not None:
            message["caption"] = caption
    if reply_to is not None:
        message["reply_to_message"] = {
            "message_id": reply_to,
            "from": {"id": 123456, "is_bot": True, "first_name": "Dateline", "username": "dl_bot"},
            "chat": message["chat"],
            "date": int(time.time()),
            "text": "Published in …",
        }
    return {
        "update_id": update_id if update_id is not None else next(_update_ids),
        "message": message,
    }


# -- Slack's requests ------------------------------------------------------------------------


def slack_signed(
    body: bytes, *, secret: str = SLACK_SECRET, at: float | None = None
) -> dict[str, str]:
    stamp = str(int(at if at is not None else time.time()))
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + digest.hexdigest()}


_event_ids = itertools.count(1)


def slack_message_event(
    text: str,
    *,
    user: str = "U0REPORTER",
    channel: str = "C0LIVE",
    ts: str | None = None,
    files: list[dict[str, Any]] | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """An `event_callback` carrying a `message` event in a public channel."""
    ts = ts or f"{time.time():.6f}"
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "channel",
    }
    if files:
        event["subtype"] = "file_share"
        event["files"] = files
    return {
        "token": "deprecated-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0DATELINE",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):08d}",
        "event_time": int(float(ts)),
    }


def slack_command_form(text: str, *, user: str = "U0REPORTER", channel: str = "C0LIVE") -> bytes:
    return urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": TEAM,
            "team_domain": "newsroom",
            "channel_id": channel,
            "channel_name": "live",
            "user_id": user,
            "user_name": "maria",
            "command": "/dateline",
            "text": text,
            "api_app_id": "A0DATELINE",
            "response_url": "https://hooks.slack.com/commands/T0001/1/abc",
            "trigger_id": f"{time.time_ns()}.{next(_event_ids)}",
        }
    ).encode()
