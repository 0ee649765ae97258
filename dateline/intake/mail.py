"""An email → what a post is made of, with the stdlib's `email` package (policy=default).

* The blog is the recipient's local part: `SLUG@DOMAIN`, or `blog+SLUG@DOMAIN` (sub-addressing,
  for one mailbox forwarding to Dateline).
* The sender is the `From` address (it must be paired with a user; docs/inputs.md on spoofing).
* Subject → headline; text/plain (preferred) or the HTML part converted to Markdown (the
  importers' converter, which keeps only what a post may hold) → body, the signature after a
  `-- ` line left out; image attachments → the post's images; anything else is refused.
* `Authentication-Results` (RFC 8601), added by the receiving MTA in front: its `dkim=` and
  `spf=` results are kept with the message's record."""

from __future__ import annotations

import email
import hashlib
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from email.utils import parseaddr

from dateline.importers.htmltext import html_to_markdown

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
PAIR_SUBJECT = re.compile(r"^\s*pair\s+([A-Za-z0-9]{6,12})\s*$", re.I)
_RESULT = {name: re.compile(rf"\b{name}=([a-z]+)", re.I) for name in ("dkim", "spf", "dmarc")}
_SIGNATURE = re.compile(r"\n-- ?\n.*\Z", re.S)


@dataclass(frozen=True)
class Letter:
    sender: str  # the From address, lower-cased
    message_id: str
    subject: str
    body: str  # Markdown
    images: tuple[tuple[str, bytes], ...]
    others: tuple[str, ...]  # attachments that are not images: "name (type)"
    auth: dict[str, str] | None


def blog_slug(address: str, domain: str) -> str | None:
    """The blog an address is for, or None if it is not one of ours."""
    local, _, host = address.strip().strip("<>").rpartition("@")
    if not local or (domain and host.lower() != domain.lower()):
        return None
    local = local.lower()
    if "+" in local:
        _, _, local = local.partition("+")
    return local if _SLUG.match(local) else None


# The most text a message may carry: a post's body holds 50,000 characters, and converting a
# huge HTML part takes seconds of CPU (16 MB: about 19 s) that no post could use.
MAX_TEXT = 1_000_000


class TooLong(Exception):
    """The message's text is longer than any post could be."""


def read_letter(raw: bytes) -> Letter:
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    sender = parseaddr(str(message.get("From", "")))[1].strip().lower()
    message_id = str(message.get("Message-ID", "")).strip()
    if not message_id:
        # No id (a hand-made message): the same bytes sent twice are the same message.
        message_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    subject = " ".join(str(message.get("Subject", "")).split())
    images, others = [], []
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        name = part.get_filename() or "attachment"
        kind = part.get_content_type()
        if part.get_content_maintype() == "image":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                images.append((name, payload))
                continue
        others.append(f"{name} ({kind})")
    return Letter(
        sender=sender,
        message_id=message_id,
        subject=subject,
        body=_body(message),
        images=tuple(images),
        others=tuple(others),
        auth=_auth(message),
    )


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if not isinstance(part, EmailMessage):
        return ""
    text = str(part.get_content())
    if len(text) > MAX_TEXT:
        raise TooLong(
            f"the message's text is {len(text):,} characters, too long for a post (at most "
            "50,000); send a shorter one"
        )
    if part.get_content_subtype() == "html":
        return html_to_markdown(text).markdown
    text = text.replace("\r\n", "\n")
    return _SIGNATURE.sub("", text).strip()


def _auth(message: EmailMessage) -> dict[str, str] | None:
    found: dict[str, str] = {}
    # The topmost header is the one our own MTA added; lower ones came with the message.
    for header in message.get_all("Authentication-Results") or ():
        for name, pattern in _RESULT.items():
            match = pattern.search(str(header))
            if match and name not in found:
                found[name] = match[1].lower()
        break
    return found or None
