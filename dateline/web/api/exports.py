"""`GET /api/v1/blogs/{slug}/export`: the blog whole as a `dateline-archive/1` (.tar.gz), for
editors of the blog (docs/archive.md). The archive is made in a private temporary folder, sent,
and removed; one export at a time per node, so a newsroom exporting cannot take a node's CPU
away from its readers (a second one is told when to try again)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from dateline.errors import TooManyRequests
from dateline.exporters.archive import export_archive
from dateline.web.auth import require_user
from dateline.web.services import services


def _gate(request: Request) -> asyncio.Lock:
    state = request.app.state
    lock: asyncio.Lock | None = getattr(state, "export_lock", None)
    if lock is None:
        lock = state.export_lock = asyncio.Lock()
    return lock


async def export_blog(request: Request) -> Response:
    user = await require_user(request)
    newsroom = services(request).newsroom
    slug = request.path_params["slug"]
    await newsroom.blog_for_export(user, slug)  # who may, before any work
    gate = _gate(request)
    if gate.locked():
        raise TooManyRequests(
            "this node is making another export; try again in a few seconds", retry_after=5
        )
    folder = Path(tempfile.mkdtemp(prefix="dateline-export-"))
    try:
        async with gate:
            done = await export_archive(newsroom, user, slug, folder / f"{slug}.dateline.tar.gz")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        done.path,
        media_type="application/gzip",
        filename=done.path.name,
        headers={"Cache-Control": "private, no-store"},
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
