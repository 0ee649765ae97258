"""Image checks and re-encoding (dateline.media), without the web layer: every image is made here
with Pillow, so no binary fixture is committed."""

from __future__ import annotations

import hashlib
import io
import os
import random
import stat
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageOps, PngImagePlugin

from dateline.errors import DatelineError, Invalid, TooLarge, UnsupportedMediaType
from dateline.newsroom import images as media

MB = 1 << 20


def process(
    data: bytes,
    *,
    max_bytes: int = 10 * MB,
    max_pixels: int = 40_000_000,
    widths: tuple[int, ...] = media.WIDTHS,
) -> media.ProcessedImage:
    return media.process_image(data, max_bytes=max_bytes, max_pixels=max_pixels, widths=widths)


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def full_size(processed: media.ProcessedImage) -> Image.Image:
    return Image.open(io.BytesIO(processed.files[processed.variants[-1].name]))


def jpeg_with_gps(width: int = 600, height: int = 400) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0110] = "Model X1000"  # Model
    exif[0x0112] = 6  # orientation: rotate 90° clockwise when shown
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (55.0, 45.0, 0.0)  # near the Kremlin
    return encode(Image.new("RGB", (width, height), (200, 30, 30)), "JPEG", exif=exif)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width`×`height`: a bomb if anything decoded it."""
    data = bytearray(encode(Image.new("1", (8, 8)), "PNG"))
    # IHDR is the first chunk: length (4), type (4), then width and height, then its CRC.
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def swapped_primaries_profile() -> bytes:
    """An RGB profile whose red and green primaries are sRGB's swapped: its red is sRGB green."""
    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack(">I", icc[128:132])
    at = {bytes(icc[132 + 12 * i : 136 + 12 * i]): 132 + 12 * i for i in range(count)}
    r, g = at[b"rXYZ"] + 4, at[b"gXYZ"] + 4
    icc[r : r + 8], icc[g : g + 8] = icc[g : g + 8], icc[r : r + 8]
    return bytes(icc)


def test_gps_and_camera_exif_are_removed_and_orientation_applied() -> None:
    processed = process(jpeg_with_gps(600, 400))
    assert processed.content_type == "image/jpeg"
    assert (processed.width, processed.height) == (400, 600)  # upright: portrait
    for name, data in processed.files.items():
        assert name.endswith(".jpg")
        assert b"Exif" not in data and b"SecretCam" not in data and b"Model X1000" not in data
        stored = Image.open(io.BytesIO(data))
        assert stored.format == "JPEG" and stored.info.get("progressive")
        assert not stored.getexif() and "exif" not in stored.info


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_turned_upright_like_pillow_does(orientation: int) -> None:
    image = Image.new("RGB", (60, 40), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 30, 10))  # a red corner shows any turn or flip
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(image, "PNG", exif=exif)
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    out = full_size(process(data))
    assert out.size == expected.size and out.tobytes() == expected.convert("RGB").tobytes()


def test_comments_xmp_and_icc_profiles_are_stripped_from_jpeg() -> None:
    data = encode(
        Image.new("RGB", (100, 80), (10, 120, 200)),
        "JPEG",
        comment=b"SecretComment",
        xmp=b"<x:xmpmeta>SecretXMP</x:xmpmeta>",
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
    )
    assert b"SecretComment" in data and b"SecretXMP" in data
    stored = process(data).files
    assert len(stored) == 1
    (out,) = stored.values()
    assert b"Secret" not in out and b"ICC_PROFILE" not in out and b"http://ns.adobe" not in out
    assert not {"comment", "xmp", "icc_profile", "exif"} & set(Image.open(io.BytesIO(out)).info)


def test_png_text_chunks_exif_and_icc_profile_are_stripped() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "SecretAuthor")
    info.add_text("Comment", "SecretNote", zip=True)
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>SecretXMP</x:xmpmeta>")
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    data = encode(
        Image.new("RGB", (100, 80), (10, 120, 200)),
        "PNG",
        pnginfo=info,
        exif=exif,
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
    )
    processed = process(data)
    assert processed.content_type == "image/png"
    (out,) = processed.files.values()
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP", b"Secret"):
        assert chunk not in out
    assert Image.open(io.BytesIO(out)).info == {}


def test_variants_are_downscaled_for_srcset_smallest_first_with_the_full_size_last() -> None:
    processed = process(encode(Image.new("RGB", (2000, 1000), (0, 90, 0)), "PNG"))
    widths = [v.width for v in processed.variants]
    assert widths == [320, 640, 1024, 1600, 2000]
    assert [v.height for v in processed.variants] == [160, 320, 512, 800, 1000]
    assert [v.name for v in processed.variants] == list(processed.files)
    for variant in processed.variants:
        stored = Image.open(io.BytesIO(processed.files[variant.name]))
        assert stored.size == (variant.width, variant.height) and stored.format == "PNG"
    full = processed.variants[-1]
    assert processed.key + ".png" == full.name and (processed.width, processed.height) == (
        2000,
        1000,
    )
    srcset = processed.srcset("/media/")
    assert srcset.startswith(f"/media/{processed.variants[0].name} 320w, /media/")
    assert srcset.endswith(f"/media/{full.name} 2000w") and srcset.count(", ") == 4
    assert processed.to_json() == {
        "key": processed.key,
        "content_type": "image/png",
        "width": 2000,
        "height": 1000,
        "variants": [
            {"name": v.name, "width": v.width, "height": v.height} for v in processed.variants
        ],
        "animated": False,
        "poster": None,
    }


def test_widths_are_taken_in_order_once_and_only_when_smaller() -> None:
    processed = process(encode(Image.new("RGB", (700, 350)), "JPEG"), widths=(640, 100, 640, 700))
    assert [v.width for v in processed.variants] == [100, 640, 700]


def test_a_small_image_is_not_upscaled() -> None:
    processed = process(encode(Image.new("RGB", (200, 150), (1, 2, 3)), "JPEG"))
    assert [(v.width, v.height) for v in processed.variants] == [(200, 150)]
    assert list(processed.files) == [processed.variants[0].name]


def test_the_same_upload_twice_gets_the_same_content_addressed_names() -> None:
    data = jpeg_with_gps()
    first, second = process(data), process(data)
    assert first == second
    for name, stored in first.files.items():
        assert media.NAME_RE.fullmatch(name)
        assert name.removesuffix(".jpg") == hashlib.sha256(stored).hexdigest()[:32]
    assert process(jpeg_with_gps(601, 400)).key != first.key


@pytest.mark.parametrize(
    "data",
    [
        b"hello, not an image",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        encode(Image.new("RGB", (10, 10)), "BMP"),
        encode(Image.new("RGB", (10, 10)), "TIFF"),
        b"\xff\xd8",
    ],
    ids=["text", "pdf", "svg", "bmp", "tiff", "two-bytes"],
)
def test_anything_but_jpeg_png_webp_or_gif_is_refused_with_415(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType) as refused:
        process(data)
    assert refused.value.status == 415
    assert "JPEG, PNG, WebP or GIF" in refused.value.message


def test_an_empty_file_is_refused_with_415() -> None:
    with pytest.raises(UnsupportedMediaType, match="the file is empty; upload a JPEG"):
        process(b"")


def _halved(fmt: str) -> bytes:
    noise = Image.effect_noise((300, 200), 60).convert("RGB")
    whole = encode(noise, fmt)
    return whole[: len(whole) // 2]


def _png_with_garbage_after_its_header() -> bytes:
    whole = encode(Image.effect_noise((300, 200), 60), "PNG")
    return whole[:33] + b"\x00\x00\x10\x00IDAT" + os.urandom(4096)


@pytest.mark.parametrize(
    "data",
    [
        _halved("JPEG"),
        _halved("PNG"),
        _halved("GIF"),
        _halved("WEBP"),
        _png_with_garbage_after_its_header(),
        b"\x89PNG\r\n\x1a\n" + b"junk" * 10,
    ],
    ids=["jpeg", "png", "gif", "webp", "png-garbage", "png-signature-only"],
)
def test_a_truncated_or_damaged_image_is_refused_with_422(data: bytes) -> None:
    with pytest.raises(Invalid) as refused:
        process(data)
    assert refused.value.status == 422 and refused.value.field == "file"
    assert refused.value.message == "the image file is damaged or truncated; upload it again"


def test_damaged_bytes_give_a_dateline_error_or_a_clean_image_never_a_crash() -> None:
    rng = random.Random(20260101)
    noise = Image.effect_noise((64, 48), 50).convert("RGB")
    exif = Image.Exif()
    exif[0x0112], exif[0x010F], exif.get_ifd(0x8825)[1] = 6, "SecretCam", "N"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    frames = [Image.new("RGB", (40, 30), colour) for colour in ("red", "green")]
    sources = [
        *(encode(noise, fmt, exif=exif, icc_profile=icc) for fmt in ("JPEG", "PNG", "WEBP")),
        encode(noise.convert("RGBA"), "PNG"),
        encode(noise, "GIF"),
        encode(noise, "MPO", save_all=True, append_images=[noise]),
        *(
            encode(frames[0], fmt, save_all=True, append_images=frames[1:])
            for fmt in ("GIF", "WEBP")
        ),
    ]
    for _ in range(1000):
        data = bytearray(rng.choice(sources))
        if rng.random() < 0.7:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        else:
            at = rng.randrange(len(data))
            data[at:at] = rng.randbytes(rng.randint(1, 40))
        try:
            processed = process(bytes(data))
        except DatelineError as refused:
            assert refused.status in (413, 415, 422)
        else:
            stored = Image.open(io.BytesIO(processed.files[processed.variants[-1].name]))
            assert not {"exif", "icc_profile", "comment", "xmp"} & set(stored.info)


def test_a_file_over_the_byte_limit_is_refused_with_413_saying_size_and_limit() -> None:
    with pytest.raises(TooLarge) as refused:
        process(b"\xff\xd8" + b"\0" * (10 * MB))
    assert refused.value.status == 413
    assert refused.value.message.startswith(
        "the image is 10,485,762 bytes; the limit is 10,485,760 (10 MB)"
    )
    with pytest.raises(TooLarge, match=r"limit is 50,000 \(48.8 kB\)"):
        process(encode(Image.effect_noise((400, 400), 80), "PNG"), max_bytes=50_000)


@pytest.mark.parametrize(
    "size",
    [(7_000, 7_000), (10_000, 10_000), (50_000, 50_000)],
    ids=["over-ours", "over-pillows-warning", "over-pillows-error"],
)
def test_a_pixel_bomb_is_refused_with_413_from_its_header_alone(size: tuple[int, int]) -> None:
    # The file holds 8×8 pixels of data: decoding it would fail as truncated (422), so a 413
    # shows that the refusal came from the header, before any pixel was allocated.
    data = png_claiming(*size)
    assert len(data) < 200
    with pytest.raises(TooLarge, match="limit is 40,000,000 pixels") as refused:
        process(data)
    assert refused.value.status == 413
    assert Image.MAX_IMAGE_PIXELS == 1024 * 1024 * 1024 // 4 // 3  # left as Pillow has it


def test_an_image_too_wide_for_jpeg_is_refused_with_413() -> None:
    with pytest.raises(
        TooLarge, match="the image is 70,000×10 pixels; each side is limited to 65,500"
    ):
        process(png_claiming(70_000, 10))


def test_a_well_compressed_large_image_is_refused_by_pixels_not_bytes() -> None:
    data = encode(Image.new("1", (20_000, 20_000)), "PNG")
    assert len(data) < 100_000
    with pytest.raises(TooLarge, match="pixels"):
        process(data)
    with pytest.raises(TooLarge, match="the image is 300×200 pixels; the limit is 50,000"):
        process(encode(Image.new("RGB", (300, 200)), "PNG"), max_pixels=50_000)


def test_transparency_survives_as_an_rgba_png() -> None:
    gif = Image.new("P", (40, 40), 0)
    gif.putpalette([0, 0, 0, 255, 255, 0] + [0] * 762)
    gif.paste(1, (0, 0, 20, 40))
    out = full_size(process(encode(gif, "GIF", transparency=0)))
    assert out.mode == "RGBA"
    assert pixel(out, (5, 5)) == (255, 255, 0, 255) and pixel(out, (35, 5))[3] == 0


def test_webp_becomes_jpeg_when_opaque_and_png_when_transparent() -> None:
    opaque = process(encode(Image.new("RGB", (80, 60), (9, 9, 9)), "WEBP"))
    assert opaque.content_type == "image/jpeg" and full_size(opaque).format == "JPEG"
    clear = process(encode(Image.new("RGBA", (80, 60), (9, 9, 9, 100)), "WEBP"))
    assert clear.content_type == "image/png" and full_size(clear).mode == "RGBA"


def test_a_cmyk_jpeg_is_converted_to_rgb() -> None:
    data = encode(Image.new("CMYK", (300, 200), (0, 255, 255, 0)), "JPEG")
    out = full_size(process(data))
    assert out.format == "JPEG" and out.mode == "RGB"
    red, green, blue = pixel(out, (150, 100))
    assert red > 200 and green < 60 and blue < 60


def test_a_multi_picture_camera_jpeg_is_accepted_as_jpeg() -> None:
    pictures = [Image.new("RGB", (200, 100), "navy"), Image.new("RGB", (200, 100), "gold")]
    data = encode(pictures[0], "MPO", save_all=True, append_images=pictures[1:])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    processed = process(data)
    assert processed.content_type == "image/jpeg" and len(processed.files) == 1


def test_colours_are_converted_to_srgb_before_the_profile_is_dropped() -> None:
    data = encode(
        Image.new("RGB", (60, 40), (255, 0, 0)),
        "JPEG",
        quality=95,
        icc_profile=swapped_primaries_profile(),
    )
    out = full_size(process(data))
    assert "icc_profile" not in out.info
    red, green, blue = pixel(out, (30, 20))
    assert green > 200 and red < 60 and blue < 60  # that profile's red is sRGB's green


def test_a_broken_icc_profile_is_ignored() -> None:
    data = encode(Image.new("RGB", (60, 40), (255, 0, 0)), "PNG", icc_profile=b"not a profile" * 20)
    out = full_size(process(data))
    assert pixel(out, (30, 20)) == (255, 0, 0) and "icc_profile" not in out.info


def test_a_16_bit_greyscale_png_keeps_its_tones() -> None:
    out = full_size(process(encode(Image.new("I;16", (30, 20), 32_896), "PNG")))
    assert pixel(out, (15, 10)) == (128, 128, 128)


def test_corrupt_exif_is_dropped_without_stopping_the_upload() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "SecretCam"
    data = bytearray(encode(Image.new("RGB", (60, 40)), "JPEG", exif=exif))
    at = data.find(b"Exif\x00\x00") + 14  # the first IFD's entry count, now far too large
    data[at : at + 2] = b"\xff\xff"
    processed = process(bytes(data))
    assert b"SecretCam" not in processed.files[processed.variants[-1].name]


def test_save_files_writes_each_file_whole_and_readable_by_the_web_server(tmp_path: Path) -> None:
    processed = process(encode(Image.new("RGB", (700, 300)), "JPEG"))
    media_dir = tmp_path / "media" / "nested"
    media.save_files(media_dir, processed.files)
    assert sorted(p.name for p in media_dir.iterdir()) == sorted(processed.files)
    for name, data in processed.files.items():
        path = media.media_path(media_dir, name)
        assert path is not None and path.read_bytes() == data
        assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_save_files_is_idempotent_and_leaves_existing_files_alone(tmp_path: Path) -> None:
    files = process(jpeg_with_gps()).files
    media.save_files(tmp_path, files)
    first = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    os.utime(tmp_path / next(iter(files)), ns=(0, 0))
    media.save_files(tmp_path, files)
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert set(after) == set(first) and after[next(iter(files))] == 0


def test_save_files_leaves_no_partial_file_when_a_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        media.save_files(tmp_path, {"a" * 32 + ".jpg": b"data"})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "name",
    ["../" + "a" * 32 + ".jpg", "x.jpg", "A" * 32 + ".jpg", "a" * 32 + ".jpg\n", "a" * 32 + ".gif"],
)
def test_save_files_refuses_a_bad_name_and_writes_nothing(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="refusing"):
        media.save_files(tmp_path / "media", {"b" * 32 + ".png": b"ok", name: b"evil"})
    assert not (tmp_path / "media").exists()


@pytest.mark.parametrize(
    "name",
    [
        "../passwd",
        "../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "x.jpg",
        "A" * 32 + ".jpg",
        "a" * 31 + ".jpg",
        "a" * 32 + ".jpg\n",
        "a" * 32 + ".jpg/..",
        "a" * 32 + ".svg",
        "",
    ],
)
def test_media_path_refuses_anything_but_a_content_name(tmp_path: Path, name: str) -> None:
    (tmp_path / "passwd").write_text("root:x:0:0")
    media_dir = tmp_path / "media"
    media_dir.mkdir()
    assert media.media_path(media_dir, name) is None


def test_media_path_finds_a_stored_file_and_not_a_missing_one(tmp_path: Path) -> None:
    media.save_files(tmp_path, {"c" * 32 + ".webp": b"x"})
    assert media.media_path(tmp_path, "c" * 32 + ".webp") == tmp_path / ("c" * 32 + ".webp")
    assert media.media_path(tmp_path, "d" * 32 + ".jpg") is None
    (tmp_path / ("e" * 32 + ".png")).mkdir()
    assert media.media_path(tmp_path, "e" * 32 + ".png") is None  # a folder is not an image
