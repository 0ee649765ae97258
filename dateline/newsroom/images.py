"""Uploaded images: checked, stripped of metadata, re-encoded and resized, all with Pillow.

Rules:
- the format is what Pillow detects in the bytes, never the file's name or the client's content
  type; only the JPEG, PNG, WebP and GIF parsers ever see an upload (a camera's multi-picture
  JPEG, which Pillow calls MPO, counts as JPEG);
- the size in pixels is read from the header and refused before any pixel is decoded, so a small
  "decompression bomb" cannot exhaust memory;
- the whole image is decoded, so a truncated file is refused rather than half-shown;
- EXIF orientation is applied, colours are converted to sRGB when the file carries an ICC profile,
  then every piece of metadata (EXIF with GPS, XMP, ICC, comments, PNG text) is dropped by
  encoding the pixels alone;
- encoding rule: JPEG, and WebP without transparency, become JPEG (quality 85, progressive);
  PNG, GIF and WebP with transparency become PNG;
- an animated GIF, PNG or WebP (more than one frame) stays animated: it becomes an animated WebP
  (newsroom/animations.py, with its limits) no wider than the widest variant, and its first
  frame, encoded by the rule above at the same sizes, is its poster, shown to readers who ask
  for reduced motion;
- width variants (320, 640, 1024, 1600 px by default, never upscaled) are made for `srcset`;
- each file is named by its content's sha256, so a name never changes meaning and can be cached
  for a year, and the same upload twice is stored once."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image, ImageCms, UnidentifiedImageError

from dateline.config import Settings
from dateline.errors import Invalid, TooLarge, UnsupportedMediaType
from dateline.newsroom import animations
from dateline.newsroom.animations import AnimationLimits

# Pillow's format name -> the name a journalist knows.
ACCEPTED = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WebP", "GIF": "GIF"}
# The only parsers an upload reaches (Pillow's JPEG parser hands multi-picture files to MPO's).
_PARSERS = ["JPEG", "PNG", "WEBP", "GIF"]
# Always used with fullmatch: `$` alone would let a trailing newline through.
NAME_RE = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp)$")
WIDTHS = (320, 640, 1024, 1600)
MAX_SIDE = 65_500  # the most a JPEG can hold (Pillow's encoder): no real photo is wider

_DAMAGED = "the image file is damaged or truncated; upload it again"
_UPLOAD = "upload a JPEG, PNG, WebP or GIF image (export HEIC photos as JPEG)"
_NOT_ACCEPTED = f"the file is not a JPEG, PNG, WebP or GIF image; {_UPLOAD}"
# How each accepted format starts: a file that does but still cannot be identified is damaged,
# not of the wrong kind.
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")
# EXIF orientation -> the turn that shows the image upright (the table of exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# What a broken file makes Pillow raise while parsing or decoding it.
_BROKEN = (OSError, SyntaxError, ValueError, EOFError)


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    width: int
    height: int


@dataclass(frozen=True)
class ProcessedImage:
    key: str
    content_type: str
    width: int
    height: int
    variants: tuple[Variant, ...]  # smallest first; the full-size image is last
    files: dict[str, bytes]
    animated: bool = False
    # An animation's first frame as a still, in the same sizes as `variants`.
    poster_content_type: str | None = None
    poster: tuple[Variant, ...] = ()

    def srcset(self, base_url: str) -> str:
        """`srcset("/media/")` -> "/media/ab….jpg 320w, /media/cd….jpg 640w, …"."""
        return ", ".join(f"{base_url}{v.name} {v.width}w" for v in self.variants)

    def to_json(self) -> dict[str, Any]:
        """The upload's record, as the store keeps it."""
        return {
            "key": self.key,
            "content_type": self.content_type,
            "width": self.width,
            "height": self.height,
            "variants": _variants_json(self.variants),
            "animated": self.animated,
            "poster": (
                {"content_type": self.poster_content_type, "variants": _variants_json(self.poster)}
                if self.poster
                else None
            ),
        }


def _variants_json(variants: tuple[Variant, ...]) -> list[dict[str, Any]]:
    return [{"name": v.name, "width": v.width, "height": v.height} for v in variants]


def _human(size: int) -> str:
    for unit, scale in (("MB", 1 << 20), ("kB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def process_image(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    widths: tuple[int, ...] = WIDTHS,
    animation: AnimationLimits | None = None,
) -> ProcessedImage:
    limits = animation or AnimationLimits.from_settings(Settings())
    # An animation's time counts from here: opening and checking it are part of the work.
    deadline = animations.Deadline(limits.seconds)
    if len(data) > max_bytes:
        raise TooLarge(
            f"the image is {len(data):,} bytes; the limit is {max_bytes:,} ({_human(max_bytes)}): "
            "export it smaller or at a lower quality"
        )
    if not data:
        raise UnsupportedMediaType(f"the file is empty; {_UPLOAD}")
    too_many = (
        f"the limit is {max_pixels:,} pixels (width × height): scale it down and upload again"
    )
    with _reading(too_many, data):
        opened: Image.Image = Image.open(io.BytesIO(data), formats=_PARSERS)
        if opened.format not in ACCEPTED:  # defence in depth: `formats` already ensures it
            raise UnsupportedMediaType(_NOT_ACCEPTED)
        source = ACCEPTED[opened.format]
        size = f"the image is {opened.width:,}×{opened.height:,} pixels"
        if opened.width * opened.height > max_pixels:
            raise TooLarge(f"{size}; {too_many}")
        if max(opened.size) > MAX_SIDE:
            raise TooLarge(f"{size}; each side is limited to {MAX_SIDE:,}: scale it down")
        # Counting a GIF's frames reads the file through without decoding them. A camera's
        # multi-picture JPEG holds a depth map or a second view, never frames.
        frames = getattr(opened, "n_frames", 1) if source != "JPEG" else 1
        if frames > 1:
            limits.check_size(opened.size, frames)
        # An animated PNG may start with a still for viewers that do not animate (the poster,
        # then), which is no frame of its animation.
        first_frame = 1 if frames > 1 and opened.info.get("default_image") else 0
        opened.load()
        icc = opened.info.get("icc_profile")
        upright = _upright(opened)
        image = opened.transpose(upright) if upright is not None else opened
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    if source == "JPEG" or (source == "WebP" and not has_alpha):
        fmt, ext, content_type, mode = "JPEG", ".jpg", "image/jpeg", "RGB"
    else:
        fmt, ext, content_type, mode = "PNG", ".png", "image/png", "RGBA" if has_alpha else "RGB"
    profile = icc if isinstance(icc, bytes) else None
    image = _to_srgb(image, mode, profile)
    # Nothing from the upload but its pixels goes on: the encoders copy some of `info` (JPEG
    # comments, PNG ICC profiles) into the new file otherwise.
    image.info.clear()
    if frames - first_frame == 1:
        files: dict[str, bytes] = {}
        variants = _stills(image, widths, fmt, ext, files)
        return ProcessedImage(
            key=variants[-1].name.removesuffix(ext),
            content_type=content_type,
            width=image.width,
            height=image.height,
            variants=variants,
            files=files,
        )

    return _animate(
        opened,
        range(first_frame, frames),
        image,
        _Still(fmt, ext, content_type),
        widths=widths,
        prepare=partial(_frame, upright=upright, profile=profile),
        limits=limits,
        max_pixels=max_pixels,
        too_many=too_many,
        deadline=deadline,
    )


@dataclass(frozen=True, slots=True)
class _Still:
    """How a still is encoded."""

    fmt: str
    ext: str
    content_type: str


def _frame(
    frame: Image.Image, *, upright: Image.Transpose | None, profile: bytes | None
) -> Image.Image:
    """A decoded frame as the first was made: upright, sRGB, without metadata."""
    if upright is not None:
        frame = frame.transpose(upright)
    frame = _to_srgb(frame, "RGBA", profile)
    frame.info.clear()
    return frame


def _animate(
    opened: Image.Image,
    frames: range,
    first: Image.Image,
    still: _Still,
    *,
    widths: tuple[int, ...],
    prepare: Callable[[Image.Image], Image.Image],
    limits: AnimationLimits,
    max_pixels: int,
    too_many: str,
    deadline: animations.Deadline,
) -> ProcessedImage:
    """An animated upload: `first` (its first frame, made a still) is the poster, no wider than
    the widest variant, and the animation is made at the poster's sizes."""
    widest = max((w for w in widths if w > 0), default=first.width)
    poster = first
    if first.width > widest:
        poster = first.resize(_scaled(first.size, widest), Image.Resampling.LANCZOS)
    files: dict[str, bytes] = {}
    posters = _stills(poster, widths, still.fmt, still.ext, files)

    def shown(frame: Image.Image) -> Image.Image:
        frame = prepare(frame)
        if frame.size != poster.size:
            # Scaled as soon as decoded: only frames of the size shown are held.
            frame = frame.resize(poster.size, Image.Resampling.LANCZOS)
        return frame

    with _reading(too_many):
        moving = animations.read_frames(
            opened, frames, limits=limits, max_pixels=max_pixels, prepare=shown, deadline=deadline
        )

    def encode(size: tuple[int, int]) -> Variant:
        webp = animations.encode_webp(moving, size, deadline)
        if len(webp) > limits.file_bytes:
            raise TooLarge(
                f"the animation re-encoded as WebP is {len(webp):,} bytes ({_human(len(webp))}); "
                f"the limit is {limits.file_bytes:,} ({_human(limits.file_bytes)}): scale it "
                "down or shorten it and upload again"
            )
        name = hashlib.sha256(webp).hexdigest()[:32] + ".webp"
        files[name] = webp
        return Variant(name, *size)

    # The full size first: the largest file, so the one over the byte limit if any is.
    full = encode(poster.size)
    variants = (*(encode(size) for size in _smaller_sizes(poster.size, widths)), full)
    return ProcessedImage(
        key=full.name.removesuffix(".webp"),
        content_type="image/webp",
        width=poster.width,
        height=poster.height,
        variants=variants,
        files=files,
        animated=True,
        poster_content_type=still.content_type,
        poster=posters,
    )


@contextmanager
def _reading(too_many: str, data: bytes = b"") -> Iterator[None]:
    """Pillow's complaints about the upload, as the errors of the contract (`data`, the upload,
    tells a damaged file from one of another kind when Pillow cannot identify it)."""
    # The filters are process-wide while the block runs (Python < 3.14), but they only silence:
    # Pillow's pixel-limit warning (our own limit is checked instead, without touching
    # Image.MAX_IMAGE_PIXELS) and its complaints about broken metadata, which is dropped anyway.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            yield
        except Image.DecompressionBombError:
            raise TooLarge(f"the image has too many pixels to open safely; {too_many}") from None
        except UnidentifiedImageError:
            webp = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
            if webp or data.startswith(_SIGNATURES):
                raise Invalid(_DAMAGED, field="file") from None
            raise UnsupportedMediaType(_NOT_ACCEPTED) from None
        except _BROKEN:
            raise Invalid(_DAMAGED, field="file") from None


def _scaled(size: tuple[int, int], width: int) -> tuple[int, int]:
    return width, max(1, round(size[1] * width / size[0]))


def _smaller_sizes(size: tuple[int, int], widths: tuple[int, ...]) -> list[tuple[int, int]]:
    """The sizes of the width variants of an image of `size`, smallest first; never upscaled."""
    return [_scaled(size, w) for w in sorted({w for w in widths if 0 < w < size[0]})]


def _stills(
    image: Image.Image, widths: tuple[int, ...], fmt: str, ext: str, files: dict[str, bytes]
) -> tuple[Variant, ...]:
    smaller = [
        _encode(image.resize(size, Image.Resampling.LANCZOS), fmt, ext, files)
        for size in _smaller_sizes(image.size, widths)
    ]
    return (*smaller, _encode(image, fmt, ext, files))


def _upright(image: Image.Image) -> Image.Transpose | None:
    """What ImageOps.exif_transpose would do, without its rewriting of the EXIF (dropped here
    anyway), which fails on some damaged files."""
    try:
        orientation = image.getexif().get(0x0112)
    except Exception:
        # EXIF is untrusted bytes read by Pillow's TIFF code; whatever breaks there, the upload
        # loses only its rotation.
        return None
    return _UPRIGHT.get(orientation) if isinstance(orientation, int) else None


def _to_srgb(image: Image.Image, mode: str, icc: bytes | None) -> Image.Image:
    """The pixels in `mode`, in sRGB: browsers assume sRGB for an image without a profile, so a
    phone's Display P3 photo would look washed out if its profile were just dropped."""
    if image.mode.startswith("I"):
        # 16-bit greyscale PNG: Pillow's convert() clips to 255 rather than scaling.
        image = image.point(lambda value: value / 257, "L")
    base = image if image.mode == "CMYK" else image.convert(mode)
    if icc:
        try:
            converted = ImageCms.profileToProfile(
                base,
                ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                ImageCms.createProfile("sRGB"),
                outputMode=mode,
            )
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile, or one for other pixels (greyscale): keep the values
    return base.convert(mode)


def _encode(image: Image.Image, fmt: str, ext: str, files: dict[str, bytes]) -> Variant:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    else:
        image.save(out, "PNG", optimize=True)
    data = out.getvalue()
    name = hashlib.sha256(data).hexdigest()[:32] + ext
    files[name] = data
    return Variant(name, image.width, image.height)


def save_files(media_dir: Path, files: Mapping[str, bytes]) -> None:
    """Write each file atomically (temp file, fsync, rename); an existing name is the same
    content already, so it is left alone."""
    for name in files:
        if not NAME_RE.fullmatch(name):
            raise ValueError(f"refusing to write media file {name!r}")
    media_dir.mkdir(parents=True, exist_ok=True)
    wrote = False
    for name, data in files.items():
        target = media_dir / name
        if target.exists():
            continue
        fd, tmp = tempfile.mkstemp(dir=media_dir, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                # mkstemp makes the file 0600; nginx, running as another user, serves these.
                os.fchmod(f.fileno(), 0o644)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        wrote = True
    if wrote:
        # The renames themselves survive a crash only once the folder is synced too; the
        # database row that names these files is written after this returns.
        dir_fd = os.open(media_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def add_files(media_dir: Path, source: Path, names: list[str]) -> list[str]:
    """Copy the named files from `source` (checked already: an archive's) into the media folder,
    one at a time, as uploads are written; the names that were not there before."""
    added = []
    for name in names:
        if (media_dir / name).exists():
            continue
        save_files(media_dir, {name: (source / name).read_bytes()})
        added.append(name)
    return added


def remove_files(media_dir: Path, names: list[str]) -> None:
    """Remove files `add_files` added, when what needed them was not written after all."""
    for name in names:
        if NAME_RE.fullmatch(name):
            (media_dir / name).unlink(missing_ok=True)


def media_path(media_dir: Path, name: str) -> Path | None:
    """The stored file called `name`, or None; the strict name pattern keeps `..` and any other
    path out."""
    if not NAME_RE.fullmatch(name):
        return None
    path = media_dir / name
    return path if path.is_file() else None
