"""The built-in SMTP receiver: aiosmtpd's protocol served on the app's own event loop (the
newsroom's database connections belong to it), started by the lifespan when `smtp_port` is set.

The SMTP answer is the reporter's answer (their mail server turns a refusal into a bounce that
quotes it), so everything is decided before the end of DATA is answered (SMTP allows minutes):

    RCPT TO an address that is no blog      550 5.1.1, before the message is sent
    more than this many bytes               552 (aiosmtpd, counted while it arrives)
    subject "pair CODE"                     pairs the From address (250, or 550 with why)
    From an address nobody paired           550 5.7.1, nothing written
    an attachment that is not an image      550 5.6.1, nothing written
    the database away                       451 4.3.0: the sender's server retries later
    otherwise                               250 with the post's link (a retry: the same link)"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from dateline.config import Settings
from dateline.errors import DatelineError, NotFound, Unavailable
from dateline.intake.desk import Attachment, Desk, Message
from dateline.intake.mail import PAIR_SUBJECT, Letter, TooLong, blog_slug, read_letter

log = logging.getLogger("dateline.intake.smtp")
PLATFORM = "email"


def _line(text: str) -> str:
    """One line of an SMTP reply."""
    return " ".join(text.split())[:400]


def _fetched(data: bytes) -> Attachment:
    async def fetch() -> bytes:
        return data

    return Attachment("image", fetch)


class Receiver:
    """aiosmtpd's handler: its `handle_*` methods answer the SMTP commands."""

    def __init__(self, desk: Desk, settings: Settings) -> None:
        self.desk = desk
        self.newsroom = desk.newsroom
        self.settings = settings

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        slug = blog_slug(address, self.settings.smtp_domain)
        if slug is None:
            return f"550 5.1.1 <{address}> is not a blog's address here; write to SLUG@domain"
        if envelope.rcpt_tos:
            # One message, one post: the sender's server sends the others in turn.
            return "452 4.5.3 one blog per message; the others follow in another transaction"
        if slug != "pair":
            try:
                await self.newsroom.store.get_blog(slug)
            except NotFound:
                return f"550 5.1.1 <{address}>: there is no blog {slug!r}"
            except Unavailable:
                return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if not isinstance(raw, bytes) or not envelope.rcpt_tos:
            return "554 5.5.1 no message"
        try:
            # Parsed in a thread: a large message must not hold this node's event loop (and
            # every reader's stream on it) while it is read.
            letter = await asyncio.to_thread(read_letter, raw)
            return await self._deliver(letter, envelope.rcpt_tos[0])
        except TooLong as exc:
            return _line(f"552 5.3.4 {exc}")
        except Unavailable:
            return "451 4.3.0 Dateline's database is unavailable; try again later"
        except Exception:
            log.exception("an email could not be handled")
            return "451 4.3.0 the message could not be handled; try again later"

    async def _deliver(self, letter: Letter, recipient: str) -> str:
        newsroom = self.newsroom
        if not letter.sender:
            return "550 5.1.7 the message has no From address"
        pairing = PAIR_SUBJECT.match(letter.subject)
        if pairing:
            try:
                user = await newsroom.pair(PLATFORM, letter.sender, letter.sender, pairing[1])
            except Unavailable:
                raise
            except DatelineError as exc:
                return _line(f"550 5.7.0 not paired: {exc.message}")
            return _line(f"250 {letter.sender} is paired with Dateline as {user.name}")
        found = await newsroom.reporter(PLATFORM, letter.sender)
        if found is None:
            return _line(
                f"550 5.7.1 {letter.sender} is not paired with a Dateline user, so nothing was "
                "posted; make an email pairing code in the console (Reporter inputs) and send "
                "it from this address with the subject 'pair CODE'"
            )
        if letter.others:
            return _line(
                f"550 5.6.1 not posted: {', '.join(letter.others)} is not an image; attach "
                "only images (JPEG, PNG, GIF, WebP) and paste documents' text into the message"
            )
        slug = blog_slug(recipient, self.settings.smtp_domain)
        if slug is None or slug == "pair":
            return "550 5.1.1 write to a blog's address (SLUG@domain) to post"
        _, user = found
        blog = await newsroom.store.get_blog(slug)
        message = Message(
            PLATFORM,
            # A Message-ID is the sender's to choose: another sender's reuse of one is another
            # message, not a duplicate of theirs.
            f"{letter.sender} {letter.message_id}"[:300],
            user,
            blog,
            headline=letter.subject[:300],
            body=letter.body,
            attachments=tuple(_fetched(data) for _, data in letter.images),
            auth=dict(letter.auth) if letter.auth else None,
        )
        outcome = await self.desk.receive(message, wait=True)
        if outcome.failed:
            return _line(f"550 5.7.1 {outcome.text}")
        return _line(f"250 {outcome.text}")


class SmtpReceiver:
    def __init__(self, desk: Desk, settings: Settings) -> None:
        self.settings = settings
        self.handler = Receiver(desk, settings)
        self._server: asyncio.Server | None = None

    def _protocol(self) -> Any:
        return SMTP(
            self.handler,
            data_size_limit=self.settings.max_email_bytes,
            hostname=self.settings.smtp_domain or "dateline",
            ident="Dateline reporter inputs",
            loop=asyncio.get_running_loop(),
        )

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol, self.settings.smtp_host, self.settings.smtp_port
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            # Newer Pythons wait here for open sessions too; a sender that hangs on does not
            # hold the node's shutdown.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
