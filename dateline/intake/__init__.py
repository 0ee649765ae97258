"""Reporter inputs: messages from the field (Telegram, Slack, email) turned into the newsroom's
use cases, with the same permissions as the console. Each adapter is thin: it checks that the
message comes from the platform, finds the Dateline user paired with its sender, and calls the
newsroom; it never writes to the store itself.

    desk.py      what every input shares: a message → a post, once; background work; answers
    telegram.py  the Telegram bot (webhook mode)
    slack.py     the Slack app (Events API and the /dateline command)
    mail.py      an email → a message (subject, text or HTML, images, DKIM/SPF results)
    smtp.py      the built-in SMTP receiver (aiosmtpd) on the app's event loop"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from dateline.config import Settings
from dateline.errors import Invalid
from dateline.intake.desk import Desk
from dateline.intake.slack import SlackApp
from dateline.intake.smtp import SmtpReceiver
from dateline.intake.telegram import TelegramBot
from dateline.newsroom import Newsroom


def check_settings(settings: Settings) -> None:
    """Refuse at start an input that would take unverified requests."""
    if settings.telegram_bot_token and len(settings.telegram_webhook_secret) < 16:
        raise Invalid(
            "telegram_bot_token is set but telegram_webhook_secret is empty or shorter than 16 "
            "characters: the webhook would take anyone's updates; set a long random secret and "
            "give it to setWebhook as secret_token",
            field="telegram_webhook_secret",
        )
    if settings.slack_bot_token and not settings.slack_signing_secret:
        raise Invalid(
            "slack_bot_token is set but slack_signing_secret is empty: Slack's requests could "
            "not be verified; copy the signing secret from the app's Basic Information page",
            field="slack_signing_secret",
        )


@dataclass(eq=False)
class Intake:
    """The inputs this node runs (None: not configured)."""

    desk: Desk
    client: httpx.AsyncClient
    telegram: TelegramBot | None = None
    slack: SlackApp | None = None
    smtp: SmtpReceiver | None = None

    async def close(self) -> None:
        if self.smtp is not None:
            await self.smtp.close()
        await self.desk.close()
        await self.client.aclose()


async def open_intake(newsroom: Newsroom, settings: Settings) -> Intake:
    desk = Desk(newsroom, settings)
    client = httpx.AsyncClient(
        timeout=settings.intake_timeout_seconds,
        follow_redirects=False,
        headers={"User-Agent": "Dateline reporter inputs"},
    )
    intake = Intake(desk, client)
    if settings.telegram_bot_token:
        intake.telegram = TelegramBot(desk, settings, client)
    if settings.slack_bot_token:
        intake.slack = SlackApp(desk, settings, client)
    if settings.smtp_port:
        intake.smtp = SmtpReceiver(desk, settings)
        await intake.smtp.start()
    return intake
