"""Slack: an app with the Events API and a slash command (https://api.slack.com/authentication/
verifying-requests-from-slack).

Every request is verified before it is read: `X-Slack-Signature` must be `v0=` and the
HMAC-SHA256, keyed with the signing secret, of `v0:{X-Slack-Request-Timestamp}:{body}`, and the
timestamp within 5 minutes of now (an older request is a replay). Then:

* `url_verification`: the challenge is echoed (Slack's check of the events URL);
* a `message` in a channel an editor linked to a blog (`/dateline link SLUG`), from a paired
  user, becomes a post; its files, if images, become the post's images (downloaded in the
  background: Slack wants its answer within 3 seconds). The app answers in the message's thread
  with the post's link. The message's channel and `ts` are its id: every retry of the event
  (`X-Slack-Retry-Num`) carries the same;
* `/dateline pair CODE`, `/dateline link SLUG`, `/dateline unlink`, `/dateline help`, and
  `/dateline TEXT` (a post in the channel's blog), answered in the command's response."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from dateline.config import Settings
from dateline.errors import DatelineError, Forbidden, Unavailable
from dateline.intake.desk import Attachment, Desk, Message, Outcome, download, split_headline

PLATFORM = "slack"
MAX_AGE_SECONDS = 5 * 60
HELP = (
    "`/dateline pair CODE` pairs your Slack account with your Dateline account (make the code "
    "in the console, Reporter inputs). `/dateline link SLUG` (editors) makes this channel's "
    "messages posts in that blog; `/dateline unlink` stops it. `/dateline TEXT` posts TEXT. "
    "A first line starting with '# ' is the headline."
)
STRANGER = (
    "Your Slack account is not paired with a Dateline user, so nothing was posted. In the "
    "Dateline console open Reporter inputs, make a Slack pairing code and send "
    "`/dateline pair CODE`."
)
# Messages that are not a person writing something new (edits, joins, bots' own answers).
_POSTED_SUBTYPES = (None, "file_share")
_LINK = re.compile(r"<(https?://[^|>]+)(?:\|([^>]+))?>")
_MENTION = re.compile(r"<[@#!][^>]*>")


def slack_text(text: str) -> str:
    """Slack's message markup → Markdown: links `<url|label>` → `[label](url)`, mentions
    dropped, the three characters Slack escapes unescaped (and nothing else: a reporter's
    literal "&copy;" stays as typed)."""
    text = _LINK.sub(lambda m: f"[{m[2]}]({m[1]})" if m[2] else m[1], text)
    text = _MENTION.sub("", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


class SlackApp:
    def __init__(self, desk: Desk, settings: Settings, client: httpx.AsyncClient) -> None:
        self.desk = desk
        self.newsroom = desk.newsroom
        self.settings = settings
        self.client = client
        self._api = settings.slack_api_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {settings.slack_bot_token}"}
        # The bot token goes only to Slack's file host or the configured API's host.
        self._file_hosts = {"files.slack.com", urlsplit(self._api).netloc}

    def verify(self, headers: Mapping[str, str], body: bytes, now: float | None = None) -> None:
        """Refuse a request that Slack did not sign, or signed more than 5 minutes ago."""
        stamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not stamp.isdigit() or not signature:
            raise Forbidden("the request carries no Slack signature; it is not from Slack")
        if abs((now if now is not None else time.time()) - int(stamp)) > MAX_AGE_SECONDS:
            raise Forbidden(
                "the request's timestamp is more than 5 minutes away from now: a replay, or "
                "this server's clock is wrong"
            )
        base = b"v0:" + stamp.encode() + b":" + body
        key = self.settings.slack_signing_secret.encode()
        expected = "v0=" + hmac.new(key, base, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise Forbidden(
                "the Slack signature is wrong; check slack_signing_secret against the app's "
                "Basic Information page"
            )

    # -- the Web API -------------------------------------------------------------------------

    async def post_message(self, channel: str, text: str, thread_ts: str | None) -> str | None:
        params: dict[str, Any] = {"channel": channel, "text": text[:3000]}
        if thread_ts:
            params["thread_ts"] = thread_ts
        try:
            response = await self.client.post(
                f"{self._api}/chat.postMessage", json=params, headers=self._auth
            )
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable(f"Slack's chat.postMessage failed ({type(exc).__name__})") from exc
        if not isinstance(answer, dict) or not answer.get("ok"):
            error = answer.get("error") if isinstance(answer, dict) else response.status_code
            raise Unavailable(f"Slack's chat.postMessage refused: {error}")
        ts = answer.get("ts")
        return str(ts) if ts else None

    def answer(self, channel: str, text: str, thread_ts: str | None) -> None:
        async def send() -> None:
            await self.post_message(channel, text, thread_ts)

        self.desk.spawn(send())

    async def file(self, url: str) -> bytes:
        if urlsplit(url).scheme not in ("https", "http") or urlsplit(url).netloc not in (
            self._file_hosts
        ):
            raise Forbidden(f"the file is not on Slack's file server ({urlsplit(url).netloc})")
        return await download(
            self.client, url, limit=self.settings.max_upload_bytes, headers=self._auth
        )

    def _fetcher(self, url: str) -> Callable[[], Awaitable[bytes]]:
        async def fetch() -> bytes:
            return await self.file(url)

        return fetch

    # -- events ------------------------------------------------------------------------------

    async def event(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """One Events API request; the JSON to answer with (None: an empty 200)."""
        kind = payload.get("type")
        if kind == "url_verification":
            return {"challenge": str(payload.get("challenge", ""))}
        event = payload.get("event")
        if kind != "event_callback" or not isinstance(event, dict):
            return None
        if event.get("type") != "message" or event.get("subtype") not in _POSTED_SUBTYPES:
            return None
        if event.get("bot_id") or not event.get("user"):
            return None  # the app's own answers, and other bots
        ts, thread_ts = str(event.get("ts", "")), event.get("thread_ts")
        if thread_ts and thread_ts != ts:
            return None  # a reply in a thread is conversation, not a post
        team = str(payload.get("team_id") or event.get("team") or "")
        channel = str(event.get("channel", ""))
        blog = await self.newsroom.channel_blog(PLATFORM, f"{team}:{channel}")
        if blog is None:
            return None  # a channel nobody linked: the app says nothing there
        found = await self.newsroom.reporter(PLATFORM, f"{team}:{event['user']}")
        if found is None:
            self.answer(channel, STRANGER, ts)
            return None
        _, user = found
        headline, body = split_headline(slack_text(str(event.get("text") or "")))
        attachments, left_out = [], []
        for f in event.get("files") or ():
            if not isinstance(f, dict):
                continue
            url = f.get("url_private_download") or f.get("url_private")
            name = str(f.get("name") or f.get("title") or "a file")
            if str(f.get("mimetype", "")).startswith("image/") and isinstance(url, str):
                attachments.append(Attachment(name, self._fetcher(url)))
            else:
                left_out.append(name)
        if not (headline or body or attachments):
            self.answer(channel, "Nothing to post: send text or images.", ts)
            return None

        async def confirm(outcome: Outcome) -> str | None:
            return await self.post_message(channel, outcome.text, ts)

        message = Message(
            PLATFORM,
            f"{team}:{channel}:{ts}",
            user,
            blog,
            headline=headline,
            body=body,
            attachments=tuple(attachments),
            left_out=tuple(left_out),
        )
        await self.desk.receive(message, confirm)
        return None

    # -- the slash command -------------------------------------------------------------------

    async def command(self, form: Mapping[str, str]) -> dict[str, Any]:
        """`/dateline …`: the JSON Slack shows the user (only them, unless said otherwise)."""
        team, channel = form.get("team_id", ""), form.get("channel_id", "")
        identity = f"{team}:{form.get('user_id', '')}"
        words = form.get("text", "").strip()
        verb, _, rest = words.partition(" ")
        verb, rest = verb.lower(), rest.strip()
        if verb in ("", "help"):
            return _private(HELP)
        if verb == "pair":
            label = form.get("user_name") or identity
            try:
                user = await self.newsroom.pair(PLATFORM, identity, label, rest)
            except Unavailable:
                raise
            except DatelineError as exc:
                return _private(f"Not paired: {exc.message}")
            return _private(f"Paired with Dateline as {user.name}.")
        found = await self.newsroom.reporter(PLATFORM, identity)
        if found is None:
            return _private(STRANGER)
        _, user = found
        link = f"{team}:{channel}"
        if verb in ("link", "unlink"):
            try:
                if verb == "link":
                    linked = await self.newsroom.link_channel(user, PLATFORM, link, rest.lower())
                    return _public(f"Messages in this channel now become posts in {linked.title}.")
                linked = await self.newsroom.unlink_channel(user, PLATFORM, link)
                return _public(f"This channel no longer posts to {linked.title}.")
            except Unavailable:
                raise
            except DatelineError as exc:
                return _private(f"Not changed: {exc.message}")
        blog = await self.newsroom.channel_blog(PLATFORM, link)
        if blog is None:
            return _private(
                "This channel is not linked to a blog; an editor links it with "
                "`/dateline link SLUG`."
            )
        headline, body = split_headline(slack_text(words))
        message = Message(
            PLATFORM,
            f"command:{form.get('trigger_id') or form.get('response_url') or words}",
            user,
            blog,
            headline=headline,
            body=body,
        )
        outcome = await self.desk.receive(message)
        return _private(outcome.text)


def _private(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


def _public(text: str) -> dict[str, Any]:
    return {"response_type": "in_channel", "text": text}
