"""The platforms' webhooks for reporter inputs (dateline/intake/): Telegram's updates, Slack's
events and its slash command. Each reads the body (capped), has it verified and handled by the
input, and answers at once; the slow part runs after the answer.

    POST /intake/telegram        Telegram's webhook (X-Telegram-Bot-Api-Secret-Token checked)
    POST /intake/slack/events    Slack's Events API (signature and timestamp checked)
    POST /intake/slack/command   Slack's /dateline command (the same checks)"""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dateline.errors import BadRequest, NotFound, TooLarge
from dateline.intake import Intake
from dateline.web.responses import JSONResponse
from dateline.web.services import services


def _intake(request: Request) -> Intake:
    intake = services(request).intake
    if intake is None:  # pragma: no cover - the lifespan always opens it
        raise NotFound("reporter inputs are not running on this node")
    return intake


async def _body(request: Request) -> bytes:
    limit = services(request).settings.max_request_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body is {declared} bytes; the limit is {limit}")
    chunks, received = [], 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise TooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _object(raw: bytes) -> dict[str, object]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return data


async def telegram_webhook(request: Request) -> Response:
    bot = _intake(request).telegram
    if bot is None:
        raise NotFound("the Telegram input is off on this instance (telegram_bot_token)")
    # The secret is checked before the body is even read.
    bot.check_secret(request.headers.get("x-telegram-bot-api-secret-token"))
    await bot.handle(_object(await _body(request)))
    return JSONResponse({"ok": True})


async def slack_events(request: Request) -> Response:
    app = _intake(request).slack
    if app is None:
        raise NotFound("the Slack input is off on this instance (slack_bot_token)")
    raw = await _body(request)
    app.verify(request.headers, raw)
    answer = await app.event(_object(raw))
    return JSONResponse(answer) if answer is not None else Response(status_code=200)


async def slack_command(request: Request) -> Response:
    app = _intake(request).slack
    if app is None:
        raise NotFound("the Slack input is off on this instance (slack_bot_token)")
    raw = await _body(request)
    app.verify(request.headers, raw)
    form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return JSONResponse(await app.command(form))
