"""Animated uploads: a moving GIF (or WebP, or PNG) stays moving, as animated WebP, with a still
poster for readers who ask for reduced motion; what is over the limits is refused whole. Every
image is made here with Pillow."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image

from dateline.config import Settings
from dateline.errors import Invalid, TooLarge
from dateline.newsroom import images
from dateline.newsroom.animations import AnimationLimits
from dateline.store import schema as t
from tests.conftest import Running

FIELDS = {"alt": "A radar loop", "caption": "The storm, last night.", "credit": "NOAA"}
COLOURS = ("red", "lime", "blue")
DEFAULTS = AnimationLimits.from_settings(Settings())


def gif(
    size: tuple[int, int] = (700, 400),
    colours: tuple[str, ...] = COLOURS,
    **params: Any,
) -> bytes:
    frames = [Image.new("RGB", size, colour) for colour in colours]
    params = {"duration": [100, 200, 300][: len(frames)], "loop": 0, **params}
    # `loop=None`: no loop count at all (Pillow then writes no NETSCAPE2.0 extension).
    params = {name: value for name, value in params.items() if value is not None}
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], **params)
    return out.getvalue()


def process(data: bytes, **limits: Any) -> images.ProcessedImage:
    return images.process_image(
        data,
        max_bytes=10 << 20,
        max_pixels=40_000_000,
        animation=dataclasses.replace(DEFAULTS, **limits),
    )


def frames_of(data: bytes) -> tuple[Image.Image, list[int], list[tuple[int, ...]]]:
    """The animation, its frames' durations and the colour at the middle of each."""
    image = Image.open(io.BytesIO(data))
    durations, middles = [], []
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        image.load()  # a WebP frame's duration is known once it is decoded
        durations.append(image.info["duration"])
        middle = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
        assert isinstance(middle, tuple)
        middles.append(middle)
    return image, durations, middles


def near(got: list[tuple[int, ...]], want: list[tuple[int, ...]]) -> bool:
    """The colours match, within what lossy WebP changes of a flat colour."""
    return len(got) == len(want) and all(
        max(abs(a - b) for a, b in zip(g, w, strict=True)) <= 8
        for g, w in zip(got, want, strict=True)
    )


async def _upload(running: Running, data: bytes) -> tuple[int, dict[str, Any]]:
    async with running.client(running.token) as c:
        r = await c.post(
            "/api/v1/media", files={"file": ("loop.gif", data, "image/gif")}, data=FIELDS
        )
        return r.status_code, r.json()


async def _stored_uploads(running: Running) -> int:
    async with running.store.engines.reading() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(t.media)) or 0)


def _widths(srcset: str) -> list[str]:
    return [entry.split(" ")[1] for entry in srcset.split(", ")]


# -- through the API -------------------------------------------------------------------------


async def test_an_animated_gif_upload_becomes_an_animated_webp_with_its_frames_and_a_poster(
    running: Running,
) -> None:
    status, media = await _upload(running, gif())
    assert status == 201, media
    assert media["animated"] is True and media["content_type"] == "image/webp"
    assert media["url"].endswith(".webp") and (media["width"], media["height"]) == (700, 400)
    assert _widths(media["srcset"]) == ["320w", "640w", "700w"]
    assert media["poster"].endswith(".png") and media["poster"] != media["url"]
    # The poster comes in the same widths, so either can stand in for the other.
    assert _widths(media["poster_srcset"]) == _widths(media["srcset"])
    async with running.client() as c:
        r = await c.get(media["url"])
        assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
        animation, durations, middles = frames_of(r.content)
        assert animation.format == "WEBP" and animation.size == (700, 400)
        assert getattr(animation, "n_frames", 1) == 3 and durations == [100, 200, 300]
        assert near(middles, [(255, 0, 0), (0, 255, 0), (0, 0, 255)]), middles
        assert animation.info["loop"] == 0
        for entry in media["srcset"].split(", "):
            url, width = entry.split(" ")
            smaller = Image.open(io.BytesIO((await c.get(url)).content))
            assert getattr(smaller, "n_frames", 1) == 3 and f"{smaller.width}w" == width
        r = await c.get(media["poster"])
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        poster = Image.open(io.BytesIO(r.content))
        assert poster.size == (700, 400) and not getattr(poster, "is_animated", False)
        assert poster.convert("RGB").getpixel((350, 200)) == (255, 0, 0)
    record = await running.store.get_media(media["key"])
    assert record is not None and record["animated"] is True
    assert record["poster"]["content_type"] == "image/png"


async def test_a_single_frame_gif_stays_a_still(running: Running) -> None:
    status, media = await _upload(running, gif(colours=("red",), duration=100))
    assert status == 201, media
    assert media["animated"] is False and media["poster"] is None
    assert media["poster_srcset"] is None
    assert media["content_type"] == "image/png" and media["url"].endswith(".png")
    record = await running.store.get_media(media["key"])
    assert record is not None and record["animated"] is False and record["poster"] is None


@pytest.mark.parametrize(
    ("settings_overrides", "said"),
    [
        ({"max_animation_frames": 2}, "the animation has 3 frames; the limit is 2"),
        (
            {"max_animation_pixels": 700 * 400 * 3 - 1},
            "the animation is 700×400 pixels × 3 frames = 840,000 pixels; the limit is 839,999",
        ),
        ({"max_animation_bytes": 1000}, "the animation re-encoded as WebP is"),
        # No real animation is made in a nanosecond: the first check after a frame is over.
        ({"max_animation_seconds": 1e-9}, "the animation takes more than 1e-09 s to re-encode"),
    ],
    ids=["frames", "pixels-times-frames", "bytes", "seconds"],
)
async def test_an_animation_over_a_limit_is_refused_with_413_and_nothing_is_stored(
    running: Running, said: str
) -> None:
    status, body = await _upload(running, gif())
    assert status == 413, body
    assert body["error"]["code"] == "too_large"
    message = body["error"]["message"]
    assert message.startswith(said) and "upload again" in message, message
    media_dir = Path(running.services.settings.media_dir)
    assert not media_dir.exists() or not any(media_dir.iterdir())
    assert await _stored_uploads(running) == 0


async def test_a_post_with_an_animated_image_shows_the_poster_to_readers_who_ask_for_less_motion(
    running: Running,
) -> None:
    status, media = await _upload(running, gif())
    assert status == 201, media
    async with running.client(running.token) as c:
        await c.post("/api/v1/blogs", json={"slug": "b", "title": "B"})
        r = await c.post(
            "/api/v1/blogs/b/posts",
            json={"headline": "The storm", "media": [{**FIELDS, "url": media["url"]}]},
        )
        assert r.status_code == 201, r.text
        post = r.json()
        shown = post["media"][0]
        assert (shown["poster"], shown["poster_srcset"]) == (
            media["poster"],
            media["poster_srcset"],
        )
        assert (shown["width"], shown["height"]) == (700, 400)
        for path in ("/b", post["url"]):
            page = (await c.get(path)).text
            figure = re.search(r"<figure class=\"figure\">.*?</figure>", page, re.S)
            assert figure is not None, path
            # The browser takes the first <source> whose media matches, else the <img>.
            assert (
                '<picture><source media="(prefers-reduced-motion: reduce)" '
                f'srcset="{media["poster_srcset"]}" sizes="(min-width: 42rem) 40rem, 100vw">\n'
                f'<img src="{media["url"]}" srcset="{media["srcset"]}" '
                'sizes="(min-width: 42rem) 40rem, 100vw" alt="A radar loop" width="700" '
                'height="400" loading="lazy" decoding="async"></picture>'
            ) in figure[0], figure[0]
        # Link previews show a still: the poster, not the animation.
        page = (await c.get(post["url"])).text
        og_image = re.search(r'<meta property="og:image" content="([^"]*)"', page)
        assert og_image is not None and og_image[1].endswith(media["poster"]), page


async def test_a_still_image_in_a_post_is_shown_without_a_picture_element(
    running: Running,
) -> None:
    status, media = await _upload(running, gif(colours=("red",), duration=100))
    assert status == 201, media
    async with running.client(running.token) as c:
        await c.post("/api/v1/blogs", json={"slug": "b", "title": "B"})
        r = await c.post(
            "/api/v1/blogs/b/posts", json={"headline": "Still", "media": [{**FIELDS, **media}]}
        )
        assert r.status_code == 422  # the upload's answer is not a post's image: only url is
        r = await c.post(
            "/api/v1/blogs/b/posts",
            json={"headline": "Still", "media": [{**FIELDS, "url": media["url"]}]},
        )
        assert r.status_code == 201, r.text
        assert r.json()["media"][0]["poster"] is None
        page = (await c.get("/b")).text
        assert f'<img src="{media["url"]}"' in page and "<picture>" not in page


# -- the image pipeline itself ---------------------------------------------------------------


def test_frame_durations_are_kept_and_too_fast_ones_last_as_long_as_browsers_show_them() -> None:
    processed = process(gif(duration=[0, 10, 250]))
    _, durations, _ = frames_of(processed.files[processed.variants[-1].name])
    assert durations == [100, 100, 250]


def test_a_gif_without_a_loop_count_plays_once_and_one_with_a_count_keeps_it() -> None:
    once = process(gif(loop=None))
    assert Image.open(io.BytesIO(once.files[once.variants[-1].name])).info["loop"] == 1
    thrice = process(gif(loop=3))
    assert Image.open(io.BytesIO(thrice.files[thrice.variants[-1].name])).info["loop"] == 3


def test_an_animation_is_made_no_wider_than_the_widest_variant_and_so_is_its_poster() -> None:
    processed = process(gif(size=(2000, 500)))
    assert processed.animated and (processed.width, processed.height) == (1600, 400)
    sizes = [(v.width, v.height) for v in processed.variants]
    assert sizes == [(320, 80), (640, 160), (1024, 256), (1600, 400)]
    assert [(v.width, v.height) for v in processed.poster] == sizes
    for variant in processed.variants:
        stored = Image.open(io.BytesIO(processed.files[variant.name]))
        assert stored.size == (variant.width, variant.height) and stored.n_frames == 3
    assert processed.key + ".webp" == processed.variants[-1].name
    assert set(processed.files) == {v.name for v in (*processed.variants, *processed.poster)}


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_animated_webp_and_png_uploads_stay_animated(fmt: str) -> None:
    frames = [Image.new("RGB", (200, 100), colour) for colour in COLOURS]
    out = io.BytesIO()
    frames[0].save(
        out, fmt, save_all=True, append_images=frames[1:], duration=[100, 200, 300], loop=0
    )
    processed = process(out.getvalue())
    assert processed.animated and processed.content_type == "image/webp"
    _, durations, middles = frames_of(processed.files[processed.variants[-1].name])
    assert durations == [100, 200, 300]
    assert near(middles, [(255, 0, 0), (0, 255, 0), (0, 0, 255)]), middles


def test_an_animated_pngs_still_for_other_viewers_is_its_poster_not_a_frame() -> None:
    frames = [Image.new("RGB", (50, 40), colour) for colour in ("white", *COLOURS)]
    out = io.BytesIO()
    frames[0].save(
        out,
        "PNG",
        save_all=True,
        append_images=frames[1:],
        default_image=True,
        duration=[100, 200, 300],
        loop=0,
    )
    processed = process(out.getvalue())
    _, durations, middles = frames_of(processed.files[processed.variants[-1].name])
    assert durations == [100, 200, 300]
    assert near(middles, [(255, 0, 0), (0, 255, 0), (0, 0, 255)]), middles
    poster = Image.open(io.BytesIO(processed.files[processed.poster[-1].name]))
    assert poster.convert("RGB").getpixel((25, 20)) == (255, 255, 255)


def test_a_transparent_animated_gif_keeps_its_transparency_and_its_poster_too() -> None:
    # Colour at both ends, clear between: libwebp leaves a fully clear border out of a frame
    # (the canvas there is clear anyway), so the clear part is kept inside.
    frames = []
    for colour in (1, 2):
        frame = Image.new("P", (60, 40), 0)
        frame.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
        frame.paste(colour, (0, 0, 20, 40))
        frame.paste(colour, (40, 0, 60, 40))
        frames.append(frame)
    out = io.BytesIO()
    frames[0].save(
        out, "GIF", save_all=True, append_images=frames[1:], transparency=0, duration=100
    )
    processed = process(out.getvalue())
    animation = Image.open(io.BytesIO(processed.files[processed.variants[-1].name]))
    assert animation.n_frames == 2 and animation.mode == "RGBA"
    for index, colour in enumerate([(255, 0, 0, 255), (0, 0, 255, 255)]):
        animation.seek(index)
        rgba = animation.convert("RGBA")
        assert near([rgba.getpixel((10, 20)), rgba.getpixel((50, 20))], [colour, colour])  # type: ignore[list-item]
        assert rgba.getpixel((30, 20))[3] == 0  # type: ignore[index]
    poster = Image.open(io.BytesIO(processed.files[processed.poster[-1].name]))
    assert poster.format == "PNG" and poster.mode == "RGBA"
    assert poster.getpixel((30, 20))[3] == 0  # type: ignore[index]


def test_the_frame_count_and_decoded_size_are_refused_before_a_frame_is_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_decoding(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("decoded frames of an animation over the limits")

    monkeypatch.setattr(images.animations, "read_frames", no_decoding)
    with pytest.raises(TooLarge, match="the animation has 3 frames; the limit is 2"):
        process(gif(), frames=2)
    with pytest.raises(TooLarge, match=r"× 3 frames = 840,000 pixels; the limit is 800,000"):
        process(gif(), pixels=800_000)


def test_a_truncated_animated_gif_is_refused_as_damaged() -> None:
    data = gif(colours=("red", "lime", "blue", "white"), duration=100)
    with pytest.raises(Invalid) as refused:
        process(data[: len(data) - 40])
    assert (
        refused.value.status == 422
        and refused.value.message == "the image file is damaged or truncated; upload it again"
    )


def test_the_same_animation_twice_gets_the_same_names() -> None:
    first, second = process(gif()), process(gif())
    assert first.key == second.key and first.files == second.files
