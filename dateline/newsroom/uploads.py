"""Image uploads: checked and re-encoded off the event loop (newsroom/images.py), written to the
media folder, then recorded in the store."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dateline.model import User
from dateline.newsroom import images, permissions
from dateline.newsroom.cases import Cases, parse
from dateline.newsroom.inputs import MediaUpload
from dateline.newsroom.permissions import Action


class UploadCases(Cases):
    async def upload_image(
        self, user: User, data: bytes, described: Mapping[str, Any] | MediaUpload
    ) -> dict[str, Any]:
        """Store an image with its alt text, caption and credit; the upload's record."""
        permissions.check(user, Action.UPLOAD)
        words = parse(MediaUpload, described)
        settings = self.settings
        processed = await asyncio.to_thread(
            images.process_image,
            data,
            max_bytes=settings.max_upload_bytes,
            max_pixels=settings.max_image_pixels,
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
