"""Image uploads (`POST /api/v1/media`) and serving them (`GET /media/NAME`).

An upload is multipart/form-data with the image in field `file` and the required `alt`, `caption`
and `credit`. The body is read with a size cap before it is parsed; Pillow then checks the image
(dateline.media), strips its metadata and makes the width variants, all off the event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.types import Message

from dateline import inputs, media
from dateline.errors import BadRequest, Forbidden, NotFound, TooLarge, UnsupportedMediaType
from dateline.web.auth import require_user
from dateline.web.responses import JSONResponse

MEDIA_PREFIX = "/media/"
_CONTENT_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


async def _read_capped(request: Request, image_limit: int) -> bytes:
    # Room for the form's other fields and boundaries on top of the image itself.
    limit = image_limit + 64 * 1024
    too_large = f"the upload is larger than the limit of {image_limit:,} bytes for an image"
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(too_large)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise TooLarge(too_large)
        chunks.append(chunk)
    return b"".join(chunks)


async def upload(request: Request) -> Response:
    user = await require_user(request)
    if not (user.is_admin or user.role.value in ("editor", "contributor")):
        raise Forbidden("only newsroom members can upload images")
    settings = request.app.state.settings
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType(
            "send the image as multipart/form-data, in field 'file', with 'alt', 'caption' "
            "and 'credit' fields"
        )
    body = await _read_capped(request, settings.max_upload_bytes)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=8)
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise BadRequest("the image must be in the form's 'file' field", field="file")
        fields = {
            name: value
            for name in ("alt", "caption", "credit")
            if isinstance(value := form.get(name), str)
        }
        described = inputs.parse(inputs.MediaUpload, fields)
        data = await file.read()
    finally:
        await form.close()
    processed = await asyncio.to_thread(
        media.process_image,
        data,
        max_bytes=settings.max_upload_bytes,
        max_pixels=settings.max_image_pixels,
    )
    await asyncio.to_thread(media.save_files, Path(settings.media_dir), processed.files)
    await request.app.state.store.add_media(
        {
            "key": processed.key,
            "content_type": processed.content_type,
            "width": processed.width,
            "height": processed.height,
            "variants": _variants(processed),
            "alt": described.alt,
            "caption": described.caption,
            "credit": described.credit,
            "uploaded_by": user.id,
        }
    )
    return JSONResponse(_media_json(processed, described), status_code=201)


def _variants(processed: media.ProcessedImage) -> list[dict[str, Any]]:
    return [{"name": v.name, "width": v.width, "height": v.height} for v in processed.variants]


def _media_json(processed: media.ProcessedImage, described: inputs.MediaUpload) -> dict[str, Any]:
    full = processed.variants[-1]
    return {
        "key": processed.key,
        "url": MEDIA_PREFIX + full.name,
        "srcset": processed.srcset(MEDIA_PREFIX),
        "content_type": processed.content_type,
        "width": processed.width,
        "height": processed.height,
        "alt": described.alt,
        "caption": described.caption,
        "credit": described.credit,
        "variants": _variants(processed),
    }


async def serve(request: Request) -> Response:
    name = request.path_params["name"]
    path = media.media_path(Path(request.app.state.settings.media_dir), name)
    if path is None:
        raise NotFound(f"there is no image {name!r}")
    return FileResponse(
        path,
        media_type=_CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
        headers={
            # The name is the content's hash: it never changes, so caches may keep it a year.
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )
