"""Starting the server: uvicorn, with Dateline's settings handed to its worker processes."""

from __future__ import annotations

import os

import uvicorn

from dateline.config import SETTINGS, Settings
from dateline.web.server import ServedApp, served_app


def app_from_environment() -> ServedApp:
    """uvicorn's factory: each worker process reads the settings `serve` put in its environment."""
    return served_app(Settings.load())


def serve(settings: Settings) -> None:
    """Serve readers and the API until stopped (blocks)."""
    # Workers are separate processes: hand them the settings through the environment.
    for setting in SETTINGS:
        os.environ[setting.env] = str(getattr(settings, setting.name))
    uvicorn.run(
        "dateline.web.server.run:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers if settings.workers > 1 else None,
        log_level="info",
        access_log=False,  # per-request log lines cost a third of the throughput; nginx logs
        # Live streams never finish on their own; give them a moment, then close them.
        timeout_graceful_shutdown=3,
        proxy_headers=True,
    )
