"""Image uploads: checked and re-encoded (newsroom/images.py) in a worker process of their own,
one image at a time, written to the media folder, then recorded in the store.

Decoding a large image takes seconds of CPU and hundreds of MB (a 6,300 × 6,300 PNG of 40 kB:
about 4 s and 350 MB): in the server process that would be taken from every reader. In a
separate process the node keeps serving, and its memory stays its own. How many pixels an
upload may have depends on who uploads it (permissions.pixel_limit)."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from dateline.errors import Unavailable
from dateline.model import User
from dateline.newsroom import images, permissions
from dateline.newsroom.animations import AnimationLimits
from dateline.newsroom.cases import Cases, parse
from dateline.newsroom.inputs import MediaUpload
from dateline.newsroom.permissions import Action

T = TypeVar("T")


class ImageWorker:
    """One worker process for image decoding, started when first needed; images queue for it,
    at most `max_waiting` of them (each holds its upload in memory): beyond, the upload is
    refused at once with a 503 to retry, rather than waiting behind minutes of decoding."""

    def __init__(self, max_waiting: int = 8) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._turn = asyncio.Lock()
        self._max_waiting = max_waiting
        self._waiting = 0

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._turn.locked() and self._waiting >= self._max_waiting:
            raise Unavailable(
                f"{self._waiting} images are waiting to be processed; try again in a few seconds",
                retry_after=5,
            )
        self._waiting += 1
        try:
            await self._turn.acquire()
        finally:
            self._waiting -= 1
        try:
            if self._pool is None:
                # A fresh interpreter, not a fork of this one (its event loop, its connections).
                self._pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"))
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(self._pool, partial(fn, *args, **kwargs))
            except BrokenProcessPool:
                self._pool = None  # killed (out of memory?): the next upload starts another
                raise Unavailable(
                    "the image could not be processed; try again, or upload a smaller one"
                ) from None
        finally:
            self._turn.release()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class UploadCases(Cases):
    _worker: ImageWorker | None = None

    @property
    def _images(self) -> ImageWorker:
        if self._worker is None:
            self._worker = ImageWorker()
        return self._worker

    def close(self) -> None:
        """Stop the image worker, if one was started."""
        if self._worker is not None:
            self._worker.close()

    async def upload_image(
        self, user: User, data: bytes, described: Mapping[str, Any] | MediaUpload
    ) -> dict[str, Any]:
        """Store an image with its alt text, caption and credit; the upload's record. An
        animated GIF, WebP or PNG stays animated, within the max_animation_* settings."""
        permissions.check(user, Action.UPLOAD)
        words = parse(MediaUpload, described)
        settings = self.settings
        processed = await self._images.run(
            images.process_image,
            data,
            max_bytes=settings.max_upload_bytes,
            max_pixels=permissions.pixel_limit(user, settings),
            animation=AnimationLimits.from_settings(settings),
        )
        await asyncio.to_thread(images.save_files, Path(settings.media_dir), processed.files)
        record: dict[str, Any] = {
            **processed.to_json(),
            "alt": words.alt,
            "caption": words.caption,
            "credit": words.credit,
            "uploaded_by": user.id,
        }
        await self.store.add_media(record)
        return record
