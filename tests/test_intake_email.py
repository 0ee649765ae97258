"""The email input end to end: real messages sent with smtplib to the built-in SMTP receiver
(aiosmtpd on the app's event loop, on a free port)."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import pytest
import sqlalchemy as sa

from dateline.model import PostStatus, User
from dateline.store import schema as t
from tests.conftest import Running
from tests.platforms import png
from tests.servers import free_port

SLUG = "flood-live"
DOMAIN = "news.example.org"
LIMIT = 2_000_000


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "smtp_port": free_port(),
        "smtp_domain": DOMAIN,
        "max_email_bytes": LIMIT,
        "public_url": "https://live.example.org",
    }


def letter(
    sender: str, subject: str, text: str = "", *, to: str = f"{SLUG}@{DOMAIN}", **headers: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Maria Kostenko <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


def _send(port: int, message: EmailMessage) -> tuple[int, str]:
    """The server's answer to the step that decided: the first refusal, or the end of DATA."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("reporter.example.net")
        sender = str(message["From"]).split("<")[-1].rstrip(">")
        code, answer = smtp.mail(sender)
        if code != 250:
            return code, answer.decode()
        code, answer = smtp.rcpt(str(message["To"]))
        if code not in (250, 251):
            return code, answer.decode()
        try:
            code, answer = smtp.data(message.as_bytes(policy=SMTP))  # CRLF line ends
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code, exc.smtp_error.decode()
        except smtplib.SMTPServerDisconnected:
            return 0, "disconnected"
        return code, answer.decode()


async def send(running: Running, message: EmailMessage) -> tuple[int, str]:
    # smtplib blocks: it runs in a thread while the receiver answers on this loop.
    return await asyncio.to_thread(_send, running.services.settings.smtp_port, message)


async def reporter(running: Running, role: str, address: str = "maria@reporters.example") -> User:
    newsroom = running.newsroom
    if not [b for b in await newsroom.store.list_blogs() if b.slug == SLUG]:
        await newsroom.create_blog(
            running.admin,
            {"slug": SLUG, "title": "Flood live", "timezone": "UTC", "status": "live"},
        )
    user = await newsroom.create_user(
        None, email=f"{role}@example.org", name=f"Maria {role}", role=role, blogs=(SLUG,)
    )
    code = await newsroom.pairing_code(user, "email")
    answer = await send(running, letter(address, f"pair {code}", to=f"pair@{DOMAIN}"))
    assert answer == (250, f"{address} is paired with Dateline as Maria {role}")
    return user


async def rows(running: Running, table: sa.Table) -> list[Any]:
    async with running.store.engines.reading() as conn:
        return list(await conn.execute(sa.select(table)))


async def test_a_paired_editors_email_is_published_with_its_subject_as_headline(
    running: Running,
) -> None:
    await reporter(running, "editor")
    message = letter(
        "maria@reporters.example",
        "River breaks its banks",
        "The river rose two metres overnight.\n\nResidents are being moved.\n\n-- \nMaria, sent from my phone\n",
        Message_ID="<flood-1@reporters.example>",
        Authentication_Results=f"mx.{DOMAIN}; dkim=pass header.d=reporters.example; spf=pass smtp.mailfrom=reporters.example",
    )
    code, answer = await send(running, message)
    async with running.client() as c:
        (post,) = (await c.get(f"/api/v1/blogs/{SLUG}/posts")).json()["posts"]
    assert code == 250
    assert answer == f"Published in Flood live: https://live.example.org/{SLUG}/posts/{post['id']}"
    assert post["headline"] == "River breaks its banks"
    assert post["body"] == "The river rose two metres overnight.\n\nResidents are being moved."
    (record,) = await rows(running, t.intake_messages)
    assert record.message_id == "maria@reporters.example <flood-1@reporters.example>"
    assert record.post_id == post["id"]
    assert record.auth == {"dkim": "pass", "spf": "pass"}


async def test_the_same_message_delivered_twice_makes_one_post(running: Running) -> None:
    await reporter(running, "editor")
    message = letter("maria@reporters.example", "Bridge closed", "The old bridge is closed.",
                     Message_ID="<bridge@reporters.example>")  # fmt: skip
    first, again = await send(running, message), await send(running, message)
    assert first[0] == again[0] == 250
    assert again[1].startswith("Already received. Published in Flood live")
    assert (await running.store.get_blog(SLUG)).post_count == 1


async def test_html_mail_is_sanitised_into_markdown(running: Running) -> None:
    await reporter(running, "editor")
    message = EmailMessage()
    message["From"] = "maria@reporters.example"
    message["To"] = f"blog+{SLUG}@{DOMAIN}"
    message["Subject"] = "Rescue boats"
    message.set_content(
        '<p>Boats are out on <b>Main Street</b>.</p><script>alert(1)</script><p><a href="https://maps.example/x">Map</a></p>',
        subtype="html",
    )
    code, _ = await send(running, message)
    assert code == 250
    async with running.client() as c:
        (post,) = (await c.get(f"/api/v1/blogs/{SLUG}/posts")).json()["posts"]
    assert post["body"] == "Boats are out on **Main Street**.\n\n[Map](https://maps.example/x)"
    assert "script" not in post["body_html"] and "alert" not in post["body_html"]


async def test_image_attachments_become_the_posts_images(running: Running) -> None:
    await reporter(running, "editor")
    message = letter("maria@reporters.example", "Aerial view", "From the helicopter.")
    message.add_attachment(png(1024, 768), maintype="image", subtype="png", filename="aerial.png")
    message.add_attachment(png(300, 200, "navy"), maintype="image", subtype="png", filename="b.png")
    code, answer = await send(running, message)
    assert code == 250, answer
    async with running.client() as c:
        (post,) = (await c.get(f"/api/v1/blogs/{SLUG}/posts")).json()["posts"]
    assert [m["width"] for m in post["media"]] == [1024, 300]
    assert all(m["url"].startswith("/media/") for m in post["media"])


async def test_a_contributors_email_is_submitted_for_review(running: Running) -> None:
    await reporter(running, "contributor", "stringer@reporters.example")
    code, answer = await send(
        running, letter("stringer@reporters.example", "Shelter full", "The school shelter is full.")
    )
    assert code == 250 and answer.startswith("Submitted for review in Flood live")
    queue = await running.newsroom.newsroom_posts(running.admin, SLUG, (PostStatus.SUBMITTED,))
    assert [p.headline for p in queue] == ["Shelter full"]
    assert (await running.store.get_blog(SLUG)).post_count == 0


async def test_a_huge_message_is_refused_and_nothing_is_written(running: Running) -> None:
    await reporter(running, "editor")
    message = letter("maria@reporters.example", "Too big", "x")
    message.add_attachment(
        b"\0" * (LIMIT + 1), maintype="image", subtype="png", filename="huge.png"
    )
    code, answer = await send(running, message)
    assert code == 552, answer
    assert await rows(running, t.intake_messages) == []
    assert (await running.store.get_blog(SLUG)).post_count == 0


async def test_a_non_image_attachment_is_refused_and_nothing_is_written(running: Running) -> None:
    await reporter(running, "editor")
    message = letter("maria@reporters.example", "Evacuation order", "Attached.")
    message.add_attachment(
        b"%PDF-1.4 ...", maintype="application", subtype="pdf", filename="order.pdf"
    )
    code, answer = await send(running, message)
    assert code == 550
    assert "order.pdf (application/pdf) is not an image" in answer
    assert await rows(running, t.intake_messages) == []
    assert (await running.store.get_blog(SLUG)).post_count == 0


async def test_an_unknown_sender_is_refused_and_nothing_is_written(running: Running) -> None:
    await reporter(running, "editor")
    code, answer = await send(running, letter("someone@elsewhere.example", "Scoop", "Trust me."))
    assert code == 550
    assert answer.startswith("5.7.1 someone@elsewhere.example is not paired with a Dateline user")
    assert await rows(running, t.intake_messages) == []
    assert (await running.store.get_blog(SLUG)).post_count == 0


async def test_an_address_that_is_no_blog_is_refused_before_the_message_is_sent(
    running: Running,
) -> None:
    await reporter(running, "editor")
    code, answer = await send(
        running, letter("maria@reporters.example", "x", "y", to=f"nope@{DOMAIN}")
    )
    assert code == 550 and "there is no blog 'nope'" in answer
    code, answer = await send(
        running, letter("maria@reporters.example", "x", "y", to=f"{SLUG}@other.example")
    )
    assert code == 550 and "is not a blog's address here" in answer


async def test_a_revoked_address_is_refused_at_once(running: Running) -> None:
    user = await reporter(running, "editor")
    (pairing,) = await running.newsroom.pairings(user)
    await running.newsroom.revoke_pairing(user, pairing.id)
    code, _ = await send(running, letter("maria@reporters.example", "After", "Revoked."))
    assert code == 550
    assert (await running.store.get_blog(SLUG)).post_count == 0


async def test_an_html_message_too_long_for_a_post_is_refused_before_it_is_converted(
    running: Running,
) -> None:
    await reporter(running, "editor")
    message = EmailMessage()
    message["From"] = "maria@reporters.example"
    message["To"] = f"{SLUG}@{DOMAIN}"
    message["Subject"] = "Everything"
    message.set_content("<p>" + "word " * 300_000 + "</p>", subtype="html")  # 1.5 MB
    code, answer = await send(running, message)
    assert code == 552 and "too long for a post" in answer
    assert (await running.store.get_blog(SLUG)).post_count == 0


async def test_the_same_message_id_from_another_sender_is_another_message(
    running: Running,
) -> None:
    await reporter(running, "editor")
    other = await running.newsroom.create_user(
        None, email="ana@example.org", name="Ana", role="editor", blogs=(SLUG,)
    )
    code = await running.newsroom.pairing_code(other, "email")
    assert (
        await send(running, letter("ana@elsewhere.example", f"pair {code}", to=f"pair@{DOMAIN}"))
    )[0] == 250
    for sender in ("maria@reporters.example", "ana@elsewhere.example"):
        message = letter(sender, f"From {sender}", "Text.", Message_ID="<same@id>")
        assert (await send(running, message))[0] == 250
    assert (await running.store.get_blog(SLUG)).post_count == 2
