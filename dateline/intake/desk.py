"""What every input shares: a message from a paired reporter → a post, once.

The platform's own id of each message is claimed first (`Newsroom.claim_message`: a primary key,
so a retried or concurrent delivery of the same message finds the first one's record and makes
no second post). A message with text only becomes a post at once, inside the platform's request;
one with files is answered at once and finished in the background (downloads and the image
pipeline take seconds, more than Slack's 3-second deadline), then confirmed to the reporter.
Email, whose sender waits for the SMTP answer, does it all before answering."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx

from dateline.config import Settings
from dateline.errors import AlreadyPosted, Conflict, DatelineError, TooLarge, Unavailable
from dateline.model import Blog, Post, PostStatus, User
from dateline.newsroom import Newsroom, urls
from dateline.store import Received

log = logging.getLogger("dateline.intake")


@dataclass(frozen=True)
class Attachment:
    """An image sent with a message; `fetch` downloads it (in the background)."""

    name: str
    fetch: Callable[[], Awaitable[bytes]]


@dataclass(frozen=True)
class Message:
    platform: str
    message_id: str  # the platform's own id: the same for every delivery of this message
    user: User
    blog: Blog
    headline: str = ""
    body: str = ""
    attachments: tuple[Attachment, ...] = ()
    left_out: tuple[str, ...] = ()  # what was sent but is not used (a PDF), for the answer
    auth: dict[str, Any] | None = None  # email's DKIM/SPF results


@dataclass(frozen=True)
class Outcome:
    """What became of a message, and what the reporter is told."""

    text: str
    post: Post | None = None
    duplicate: bool = False
    pending: bool = False  # still being processed in the background
    failed: bool = False
    refused: DatelineError | None = None


@dataclass(eq=False)
class Desk:
    newsroom: Newsroom
    settings: Settings
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    # -- background work ---------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` after the platform has been answered; failures are logged."""
        task = asyncio.get_running_loop().create_task(self._logged(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _logged(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            log.exception("a reporter input's background work failed")

    async def idle(self) -> None:
        """Wait until the background work (including work it starts) is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Let running work finish for a few seconds, then cancel what is left."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(list(self._tasks), timeout=5)
        for task in pending:
            task.cancel()

    # -- links and answers -------------------------------------------------------------------

    def link(self, blog: Blog, post: Post) -> str:
        base = self.settings.public_url.rstrip("/")
        if post.status is PostStatus.PUBLISHED:
            return base + urls.post_path(blog.slug, post.id)
        # Not public yet: the console's editor, where it is reviewed or published.
        return f"{base}/newsroom/blogs/{blog.slug}/posts/{post.id}"

    def posted(self, blog: Blog, post: Post, left_out: tuple[str, ...] = ()) -> str:
        if post.status is PostStatus.PUBLISHED:
            text = f"Published in {blog.title}: {self.link(blog, post)}"
        elif post.status is PostStatus.SUBMITTED:
            text = f"Submitted for review in {blog.title}: {self.link(blog, post)}"
        else:
            text = f"Saved as a draft in {blog.title}: {self.link(blog, post)}"
        if left_out:
            text += "\nLeft out (not images): " + ", ".join(left_out)
        return text

    async def _earlier(self, message: Message, earlier: Received) -> Outcome:
        if earlier.post_id is not None:
            post = await self.newsroom.read_post(message.user, message.blog.slug, earlier.post_id)
            text = "Already received. " + self.posted(message.blog, post)
            return Outcome(text, post=post, duplicate=True)
        if earlier.status == "failed":
            return Outcome(f"Already received; not posted: {earlier.note}", duplicate=True)
        return Outcome("Already received; still being processed.", duplicate=True, pending=True)

    # -- a message → a post ------------------------------------------------------------------

    async def receive(
        self,
        message: Message,
        confirm: Callable[[Outcome], Awaitable[str | None]] | None = None,
        *,
        wait: bool = False,
    ) -> Outcome:
        """Turn `message` into a post, once. `confirm` tells the reporter what became of it (in
        the background) and answers the id of its confirmation, so that a reply to it can edit
        the post. With `wait`, files are fetched and processed before this returns."""
        newsroom = self.newsroom
        try:
            # Who may write here is decided before anything is recorded: a refusal writes nothing.
            await newsroom.reported_status(message.user, message.blog)
        except DatelineError as refusal:
            if isinstance(refusal, Unavailable):
                raise
            refused = Outcome(f"Not posted: {refusal.message}", failed=True, refused=refusal)
            if confirm is not None:
                self.spawn(self._confirm(message, refused, confirm))
            return refused
        earlier = await newsroom.claim_message(
            message.platform, message.message_id, message.user, message.blog, message.auth
        )
        if earlier is not None:
            return await self._earlier(message, earlier)
        if message.attachments and not wait:
            self.spawn(self._finish(message, confirm))
            return Outcome("Received; the images are being processed.", pending=True)
        try:
            outcome = await self._post(message)
        except Unavailable:
            # Nothing was posted: the platform's retry (or the sender's MTA) tries again.
            await newsroom.release_message(message.platform, message.message_id)
            raise
        if confirm is not None:
            self.spawn(self._confirm(message, outcome, confirm))
        return outcome

    async def _finish(
        self, message: Message, confirm: Callable[[Outcome], Awaitable[str | None]] | None
    ) -> None:
        try:
            outcome = await self._post(message)
        except Unavailable as exc:
            await self.newsroom.settle_message(
                message.platform, message.message_id, note=exc.message
            )
            outcome = Outcome(f"Not posted: {exc.message}; send it again", failed=True)
        if confirm is not None:
            await self._confirm(message, outcome, confirm)

    async def _confirm(
        self,
        message: Message,
        outcome: Outcome,
        confirm: Callable[[Outcome], Awaitable[str | None]],
    ) -> None:
        reply_ref = await confirm(outcome)
        if reply_ref is not None and outcome.post is not None:
            await self.newsroom.confirmed(message.platform, message.message_id, reply_ref)

    async def _post(self, message: Message) -> Outcome:
        """Upload the images, write the post, record what became of the message."""
        newsroom, user = self.newsroom, message.user
        try:
            media = []
            for attachment in message.attachments:
                data = await attachment.fetch()
                words = _image_words(message, user)
                record = await newsroom.upload_image(user, data, words)
                media.append({"url": _upload_url(record), **words})
            post = await newsroom.write_reported(
                user,
                message.blog,
                headline=message.headline,
                body=message.body,
                media=media,
                origin=f"{message.platform}:{message.message_id}"[:320],
            )
        except AlreadyPosted as done:
            # Posted by a handler that died before saying so: this delivery only records it.
            post = await newsroom.read_post(user, message.blog.slug, done.post_id)
            await newsroom.settle_message(message.platform, message.message_id, post=post)
            return Outcome("Already received. " + self.posted(message.blog, post), post=post)
        except Unavailable:
            raise
        except DatelineError as exc:
            await newsroom.settle_message(message.platform, message.message_id, note=exc.message)
            return Outcome(f"Not posted: {exc.message}", failed=True, refused=exc)
        except Exception:
            # Unexpected: the reporter is told (the platform has its answer already, or gets a
            # 200 now), rather than the message staying "being processed" for good.
            log.exception("a %s message could not be posted", message.platform)
            note = "an error on the server (it is logged)"
            await newsroom.settle_message(message.platform, message.message_id, note=note)
            return Outcome(f"Not posted: {note}; send it again", failed=True)
        await newsroom.settle_message(message.platform, message.message_id, post=post)
        return Outcome(self.posted(message.blog, post, message.left_out), post=post)

    async def edit(
        self, user: User, blog: Blog, post_id: str, *, headline: str, body: str
    ) -> Outcome:
        """A reporter's correction of their post (a reply to its confirmation), through
        `edit_post`: a contributor may change theirs until it is published, an editor any.
        It edits from the reporter's own latest version, so it never undoes a change made in
        the newsroom since (the reporter is told to make theirs in the console)."""
        data: dict[str, Any] = {"body": body}
        if headline:
            data["headline"] = headline
        try:
            data["base_revision"] = await self.newsroom.reporters_revision(user, blog, post_id)
            post = await self.newsroom.edit_post(user, blog.slug, post_id, data)
        except Unavailable:
            raise
        except Conflict as exc:
            current = exc.extra.get("current")
            if not isinstance(current, dict):
                return Outcome(f"Not changed: {exc.message}", failed=True, refused=exc)
            base = self.settings.public_url.rstrip("/")
            where = f"{base}/newsroom/blogs/{blog.slug}/posts/{post_id}"
            return Outcome(
                "Not changed: the post was changed in the newsroom after your last version, "
                f"and a reply would undo that. See it and change it in the console: {where}",
                failed=True,
                refused=exc,
            )
        except DatelineError as exc:
            return Outcome(f"Not changed: {exc.message}", failed=True, refused=exc)
        return Outcome(f"Updated: {self.link(blog, post)}", post=post)


def _image_words(message: Message, user: User) -> dict[str, str]:
    """An image needs alt text, a caption and a credit; a chat photo has at most a caption,
    which the reporter can improve in the console."""
    said = (message.headline or message.body).strip().splitlines()
    caption = said[0][:300] if said else ""
    return {
        "alt": caption or f"Photo sent by {user.name}",
        "caption": caption or f"Photo: {user.name}",
        "credit": user.name[:300],
    }


def _upload_url(record: dict[str, Any]) -> str:
    return "/media/" + str(record["variants"][-1]["name"])


def split_headline(text: str) -> tuple[str, str]:
    """A first line written as a Markdown heading ("# Blast at the port") is the headline; the
    rest is the body."""
    first, _, rest = text.strip().partition("\n")
    if first.startswith("# "):
        return first[2:].strip()[:300], rest.strip()
    return "", text.strip()


async def download(
    client: httpx.AsyncClient, url: str, *, limit: int, headers: dict[str, str] | None = None
) -> bytes:
    """A platform's file, refused beyond `limit` bytes before it is read whole."""
    too_large = f"the file is larger than the limit of {limit:,} bytes for an image"
    try:
        async with client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                raise Unavailable(
                    f"the platform's file server answered {response.status_code}; send it again"
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise TooLarge(too_large)
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise TooLarge(too_large)
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise Unavailable(f"the file could not be downloaded ({type(exc).__name__})") from exc
    return b"".join(chunks)
