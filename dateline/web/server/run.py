"""Starting the server: uvicorn, with Dateline's settings handed to its worker processes."""

from __future__ import annotations

import os
from typing import Any

import uvicorn

from dateline.config import SETTINGS, Settings
from dateline.errors import Invalid
from dateline.web.server import ServedApp, served_app
from dateline.web.server.limits import guarded_protocol


def app_from_environment() -> ServedApp:
    """uvicorn's factory: each worker process reads the settings `serve` put in its environment
    (and sets its connection limits from them)."""
    settings = Settings.load()
    guarded_protocol(settings)
    return served_app(settings)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn runs a node (tests start their servers with the same)."""
    trusted = settings.forwarded_allow_ips.strip()
    if not settings.idle_timeout_seconds > 0:
        raise Invalid(
            "idle_timeout_seconds must be more than 0 (a keep-alive connection is closed that "
            "many seconds after its last response)",
            field="idle_timeout_seconds",
        )
    return {
        # uvicorn's httptools protocol with Dateline's limits at the connection (limits.py).
        "http": guarded_protocol(settings),
        "host": settings.host,
        "port": settings.port,
        "access_log": False,  # per-request log lines cost a third of the throughput; nginx logs
        # A connection idle after a complete response is closed (a live stream is a response
        # still going, never idle); a new one's first request falls under the header deadline.
        "timeout_keep_alive": settings.idle_timeout_seconds,
        # Live streams never finish on their own; give them a moment, then close them.
        "timeout_graceful_shutdown": 3,
        # Forwarded headers are believed only from the proxies named: a node that readers reach
        # directly must not let anyone claim another address (sign-in throttling) or scheme.
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
    }


def serve(settings: Settings) -> None:
    """Serve readers and the API until stopped (blocks)."""
    # Workers are separate processes: hand them the settings through the environment.
    for setting in SETTINGS:
        os.environ[setting.env] = str(getattr(settings, setting.name))
    uvicorn.run(
        "dateline.web.server.run:app_from_environment",
        factory=True,
        workers=settings.workers if settings.workers > 1 else None,
        log_level="info",
        **uvicorn_options(settings),
    )
