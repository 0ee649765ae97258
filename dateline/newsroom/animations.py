"""Animated uploads: a GIF, WebP or PNG of more than one frame keeps moving, re-encoded as an
animated WebP, beside a still poster of its first frame (newsroom/images.py makes the poster and
decides when this module is used).

An animation costs its frame count times what a still of its size costs, so it is bounded four
ways (AnimationLimits), each refused with 413 before any file is written:
- frames: counted from the file's structure, before any pixel is decoded;
- pixels × frames: what decoding produces, from the header and that count, before any pixel is
  decoded (a GIF of one colour, 2,000 × 2,000 pixels × 1,000 frames, is a few kB on the wire and
  16 GB decoded);
- bytes: each animated file as encoded, since readers download it;
- seconds: the time taken so far, checked after each frame and each file (a file's encoding, once
  started, runs to its end).

Rules:
- every frame is decoded whole: a GIF's later frames are drawn over the earlier ones as their
  disposal says, and a frame that reaches past the GIF's canvas is clipped to it, as browsers do;
- frame durations are kept, except that one under 20 ms becomes 100 ms: browsers show a GIF's
  0 and 10 ms frames for 100 ms, and a WebP's would flash by;
- the loop count is kept; a GIF without one plays once, as browsers play it;
- the encoding is lossy WebP, quality 80, method 4: for photographic frames about a tenth of the
  GIF's bytes, in about a second per ten million pixels. (Mixed lossy/lossless coding is smaller
  for flat graphics but took five times as long on photographic frames.)"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from dateline.config import Settings
from dateline.errors import TooLarge

# Under this a frame's duration is taken as a GIF's "as fast as you like": browsers show 100 ms.
_FASTEST_MS = 20
_DEFAULT_MS = 100


@dataclass(frozen=True, slots=True)
class AnimationLimits:
    frames: int
    pixels: int  # width × height × frames: what decoding the animation produces
    file_bytes: int  # of each animated file written
    seconds: float  # to decode, resize and encode the whole animation

    @classmethod
    def from_settings(cls, settings: Settings) -> AnimationLimits:
        return cls(
            frames=settings.max_animation_frames,
            pixels=settings.max_animation_pixels,
            file_bytes=settings.max_animation_bytes,
            seconds=settings.max_animation_seconds,
        )

    def check_size(self, size: tuple[int, int], frames: int) -> None:
        """Refuse an animation of `frames` frames of `size` that is over the limits."""
        if frames > self.frames:
            raise TooLarge(
                f"the animation has {frames:,} frames; the limit is {self.frames:,}: shorten it "
                "or drop frames (a lower frame rate) and upload again"
            )
        width, height = size
        total = width * height * frames
        if total > self.pixels:
            raise TooLarge(
                f"the animation is {width:,}×{height:,} pixels × {frames:,} frames = {total:,} "
                f"pixels; the limit is {self.pixels:,}: scale it down or shorten it and upload "
                "again"
            )


class Deadline:
    """The time an animation has, from when it was received."""

    def __init__(self, seconds: float, started: float | None = None) -> None:
        self.seconds = seconds
        self._end = (time.monotonic() if started is None else started) + seconds

    def check(self) -> None:
        if time.monotonic() > self._end:
            raise TooLarge(
                f"the animation takes more than {self.seconds:g} s to re-encode; scale it down "
                "or shorten it and upload again"
            )


@dataclass(frozen=True)
class Frames:
    images: list[Image.Image]  # all the same size and mode
    durations: list[int]  # milliseconds, one per image
    loop: int  # times to play; 0: forever

    @property
    def size(self) -> tuple[int, int]:
        return self.images[0].size


def read_frames(
    image: Image.Image,
    indexes: range,
    *,
    limits: AnimationLimits,
    max_pixels: int,
    prepare: Callable[[Image.Image], Image.Image],
    deadline: Deadline,
) -> Frames:
    """The frames of `image` at `indexes` (opened, its size and frame count already checked),
    each passed through `prepare` as soon as it is decoded, so that only prepared frames are
    held.

    Pillow raises what a damaged file makes it raise; the caller turns that into a 422."""
    canvas = image.size
    loop = image.info.get("loop", 1)  # read before seeking: GIF keeps it with the first frame
    images: list[Image.Image] = []
    durations: list[int] = []
    for index in indexes:
        image.seek(index)
        frame = image
        if image.size != canvas:
            # A GIF frame reaching past the canvas makes Pillow grow it before decoding: check
            # the grown size first, then clip the frame to the canvas.
            grown = image.size
            if grown[0] * grown[1] > max_pixels:
                raise TooLarge(
                    f"frame {index + 1} of the animation is {grown[0]:,}×{grown[1]:,} pixels; "
                    f"the limit is {max_pixels:,} pixels: scale it down and upload again"
                )
            limits.check_size(grown, indexes.stop)
            frame = image.crop((0, 0, *canvas))
        images.append(prepare(frame))
        # Only now: WebP's decoder sets a frame's duration when it decodes the frame.
        duration = image.info.get("duration")
        shown = round(duration) if isinstance(duration, int | float) else 0
        durations.append(shown if shown >= _FASTEST_MS else _DEFAULT_MS)
        deadline.check()
    return Frames(images, durations, loop if isinstance(loop, int) and loop >= 0 else 1)


def encode_webp(frames: Frames, size: tuple[int, int], deadline: Deadline) -> bytes:
    """The animation as WebP, its frames scaled to `size`."""
    shown = frames.images
    if size != frames.size:
        shown = []
        for frame in frames.images:
            shown.append(frame.resize(size, Image.Resampling.LANCZOS))
            deadline.check()
    out = io.BytesIO()
    shown[0].save(
        out,
        "WEBP",
        save_all=True,
        append_images=shown[1:],
        duration=frames.durations,
        loop=frames.loop,
        # Transparent where a frame is: Pillow would otherwise take a GIF's background index.
        background=(0, 0, 0, 0),
        quality=80,
        method=4,
    )
    deadline.check()
    return out.getvalue()
