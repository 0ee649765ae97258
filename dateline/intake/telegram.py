"""Telegram: a bot in webhook mode (https://core.telegram.org/bots/api#setwebhook).

Telegram POSTs each `Update` to the webhook with the `secret_token` given to setWebhook in
`X-Telegram-Bot-Api-Secret-Token`; anything else is refused before it is read. The bot
understands:

    /pair CODE     pairs this Telegram account with the console user who made CODE
    /blog SLUG     the blog the next messages go to (one the user may write in); /blog lists them
    /help          what it understands
    text           a post (a first line "# Headline" is the headline)
    photo+caption  a post with the photo (the largest size within max_upload_bytes), downloaded
                   through getFile and the file endpoint, then the newsroom's image pipeline
    a reply to the bot's confirmation of a post: that post's new text

Answers go out with sendMessage, after the webhook has been answered. `update_id` is the
message's id for idempotency: Telegram redelivers an update with the same id."""

from __future__ import annotations

import hmac
import re
from typing import Any

import httpx

from dateline.config import Settings
from dateline.errors import Conflict, DatelineError, Forbidden, Invalid, Unavailable
from dateline.intake.desk import Attachment, Desk, Message, Outcome, download, split_headline
from dateline.model import User
from dateline.store import Pairing

PLATFORM = "telegram"
_COMMAND = re.compile(r"^/([a-z_]+)(?:@\w+)?(?:\s+(.*))?$", re.S | re.I)
HELP = (
    "I turn your messages into posts on Dateline.\n"
    "/blog SLUG: choose the blog your messages go to (/blog alone lists yours)\n"
    "Then send text, or a photo with a caption. A first line starting with '# ' is the headline.\n"
    "Reply to my confirmation of a post to replace its text."
)
STRANGER = (
    "This Telegram account is not paired with a Dateline user, so nothing was posted. In the "
    "Dateline console open Reporter inputs, make a Telegram pairing code and send /pair CODE here."
)


class TelegramBot:
    def __init__(self, desk: Desk, settings: Settings, client: httpx.AsyncClient) -> None:
        self.desk = desk
        self.newsroom = desk.newsroom
        self.settings = settings
        self.client = client
        self._api = f"{settings.telegram_api_url.rstrip('/')}/bot{settings.telegram_bot_token}"
        self._files = (
            f"{settings.telegram_api_url.rstrip('/')}/file/bot{settings.telegram_bot_token}"
        )

    def check_secret(self, sent: str | None) -> None:
        """Refuse a webhook call that does not carry the configured secret token."""
        expected = self.settings.telegram_webhook_secret.encode()
        if not sent or not hmac.compare_digest(sent.encode(), expected):
            raise Forbidden(
                "the X-Telegram-Bot-Api-Secret-Token header is missing or wrong; give "
                "setWebhook the same secret_token as telegram_webhook_secret"
            )

    # -- the Bot API -------------------------------------------------------------------------

    async def call(self, method: str, **params: Any) -> Any:
        try:
            response = await self.client.post(f"{self._api}/{method}", json=params)
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable(f"Telegram's {method} failed ({type(exc).__name__})") from exc
        if not isinstance(answer, dict) or not answer.get("ok"):
            described = answer.get("description") if isinstance(answer, dict) else None
            raise Unavailable(f"Telegram's {method} refused: {described or response.status_code}")
        return answer.get("result")

    async def say(self, chat_id: int, text: str, reply_to: int | None = None) -> int | None:
        """Send `text` to the chat; the sent message's id."""
        params: dict[str, Any] = {"chat_id": chat_id, "text": text[:4096]}
        if reply_to is not None:
            params["reply_parameters"] = {
                "message_id": reply_to,
                "allow_sending_without_reply": True,
            }
        result = await self.call("sendMessage", **params)
        found = result.get("message_id") if isinstance(result, dict) else None
        return int(found) if isinstance(found, int) else None

    def answer(self, chat_id: int, text: str, reply_to: int | None = None) -> None:
        """Say it after the webhook has been answered."""

        async def send() -> None:
            await self.say(chat_id, text, reply_to)

        self.desk.spawn(send())

    async def file(self, file_id: str) -> bytes:
        found = await self.call("getFile", file_id=file_id)
        path = found.get("file_path") if isinstance(found, dict) else None
        if not isinstance(path, str) or ".." in path:
            raise Unavailable("Telegram did not say where the file is; send it again")
        return await download(
            self.client, f"{self._files}/{path}", limit=self.settings.max_upload_bytes
        )

    # -- updates -----------------------------------------------------------------------------

    async def handle(self, update: dict[str, Any]) -> None:
        """One update, answered within the webhook call (the slow part queued)."""
        message = update.get("message")
        if not isinstance(message, dict):
            return  # edits, channel posts, button presses: not reporters' messages
        sender, chat = message.get("from"), message.get("chat")
        if not isinstance(sender, dict) or not isinstance(chat, dict) or sender.get("is_bot"):
            return
        identity, chat_id = str(sender.get("id")), int(chat.get("id", 0))
        msg_id = message.get("message_id")
        reply_to = msg_id if isinstance(msg_id, int) else None
        text = str(message.get("text") or message.get("caption") or "")
        command = _COMMAND.match(text.strip()) if message.get("text") else None
        name, arg = (command[1].lower(), (command[2] or "").strip()) if command else ("", "")

        if name == "pair":
            self.answer(chat_id, await self._pair(sender, identity, arg), reply_to)
            return
        found = await self.newsroom.reporter(PLATFORM, identity)
        if found is None:
            self.answer(chat_id, STRANGER, reply_to)
            return
        pairing, user = found
        if name in ("start", "help"):
            self.answer(chat_id, HELP, reply_to)
            return
        if name == "blog":
            self.answer(chat_id, await self._blog(pairing, user, arg), reply_to)
            return
        if command:
            self.answer(chat_id, f"I do not know /{name}.\n{HELP}", reply_to)
            return

        headline, body = split_headline(text)
        replied = message.get("reply_to_message")
        if isinstance(replied, dict) and isinstance(replied.get("message_id"), int):
            target = await self.newsroom.replied_to(PLATFORM, f"{chat_id}:{replied['message_id']}")
            if target is not None:
                edited, post_id = target
                outcome = await self.desk.edit(user, edited, post_id, headline=headline, body=body)
                self.answer(chat_id, outcome.text, reply_to)
                return
        blog = await self.newsroom.reporter_blog(pairing)
        if blog is None:
            self.answer(chat_id, "Choose a blog first: /blog SLUG (/blog lists yours).", reply_to)
            return
        photo = _largest_photo(message, self.settings.max_upload_bytes)
        attachments = () if photo is None else (Attachment("photo", lambda: self.file(photo)),)
        if not body and not headline and not attachments:
            self.answer(chat_id, "Send text or a photo with a caption; nothing was posted.")
            return

        async def confirm(outcome: Outcome) -> str | None:
            sent = await self.say(chat_id, outcome.text, reply_to)
            return f"{chat_id}:{sent}" if sent is not None else None

        incoming = Message(
            PLATFORM,
            str(update.get("update_id")),
            user,
            blog,
            headline=headline,
            body=body,
            attachments=attachments,
        )
        await self.desk.receive(incoming, confirm)

    async def _pair(self, sender: dict[str, Any], identity: str, code: str) -> str:
        if not code:
            return "Send /pair CODE with the code the Dateline console shows you."
        username = sender.get("username")
        label = f"@{username}" if username else str(sender.get("first_name") or identity)
        try:
            user = await self.newsroom.pair(PLATFORM, identity, label, code)
        except (Invalid, Conflict) as exc:
            return f"Not paired: {exc.message}"
        return f"Paired with Dateline as {user.name}.\n{HELP}"

    async def _blog(self, pairing: Pairing, user: User, slug: str) -> str:
        blogs = await self.newsroom.blogs_of(user)
        if not slug:
            if not blogs:
                return "You are not a member of any blog yet; ask an admin to add you."
            return "Your blogs:\n" + "\n".join(f"/blog {b.slug} ({b.title})" for b in blogs)
        try:
            blog = await self.newsroom.choose_blog(user, pairing, slug.lower())
        except Unavailable:
            raise
        except DatelineError as exc:
            return f"Not changed: {exc.message}"
        status = await self.newsroom.reported_status(user, blog)
        what = {
            "published": "are published at once",
            "draft": "are saved as drafts",
            "submitted": "are submitted for review",
        }[status.value]
        return f"Your messages now go to {blog.title}; they {what}."


def _largest_photo(message: dict[str, Any], limit: int) -> str | None:
    """The file id of the largest size of a photo (or an image sent as a file) within `limit`."""
    sizes = message.get("photo")
    if isinstance(sizes, list) and sizes:
        fitting = [
            s
            for s in sizes
            if isinstance(s, dict) and int(s.get("file_size") or 0) <= limit and s.get("file_id")
        ]
        if fitting:
            best = max(fitting, key=lambda s: int(s.get("width", 0)) * int(s.get("height", 0)))
            return str(best["file_id"])
        return str(min(sizes, key=lambda s: int(s.get("file_size") or 0))["file_id"])
    document = message.get("document")
    if isinstance(document, dict) and str(document.get("mime_type", "")).startswith("image/"):
        return str(document["file_id"]) if document.get("file_id") else None
    return None
