"""Image uploads (`POST /api/v1/media`) and serving them (`GET /media/NAME`).

An upload is multipart/form-data with the image in field `file` and the required `alt`, `caption`
and `credit`. The body is read with a size cap before it is parsed; the newsroom then checks the
image with Pillow (newsroom/images.py), strips its metadata and makes the width variants, all off
the event loop."""

from __future__ import annotations

from pathlib import Path

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.types import Message

from dateline.errors import BadRequest, NotFound, TooLarge, UnsupportedMediaType
from dateline.newsroom import images
from dateline.newsroom.shapes import media_json
from dateline.web.auth import require_user
from dateline.web.responses import JSONResponse
from dateline.web.services import services

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
    found = services(request)
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType(
            "send the image as multipart/form-data, in field 'file', with 'alt', 'caption' "
            "and 'credit' fields"
        )
    body = await _read_capped(request, found.settings.max_upload_bytes)
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
        described = {
            name: value
            for name in ("alt", "caption", "credit")
            if isinstance(value := form.get(name), str)
        }
        data = await file.read()
    finally:
        await form.close()
    record = await found.newsroom.upload_image(user, data, described)
    return JSONResponse(media_json(record, MEDIA_PREFIX), status_code=201)


async def serve(request: Request) -> Response:
    name = request.path_params["name"]
    path = images.media_path(Path(services(request).settings.media_dir), name)
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
