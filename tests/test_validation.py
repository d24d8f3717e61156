"""validate_image on hostile bytes: every failure is a RefreshError with a short sentence.

A download is whatever a server (or a network cut) sends. Whatever Pillow or the XML parser
raises on it must come out as NOT_AN_IMAGE (or TOO_MANY_PIXELS) with a sentence for a person,
never as a stray exception or as the library's own wording; and one image may not cost
unbounded work to check (frames x pixels).
"""

from __future__ import annotations

import io
import logging
import random
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, features

from core.models import FailureReason, RefreshError
from core.settings import RefreshSettings
from core.validation import (
    MIN_FRAME_COST_PIXELS,
    RASTER_FORMATS,
    ImageInfo,
    validate_image,
)
from tests.server import gif_canvas, jpeg_bytes, png_bomb, png_bytes

DEFAULT_MAX_PIXELS = RefreshSettings().max_pixels  # 89,478,485, Pillow's own limit
HAS_WEBP = features.check("webp")
HAS_AVIF = features.check("avif")
needs_webp = pytest.mark.skipif(not HAS_WEBP, reason="this Pillow was built without WebP")
needs_avif = pytest.mark.skipif(not HAS_AVIF, reason="this Pillow was built without AVIF")


def picture(size: tuple[int, int] = (96, 64)) -> Image.Image:
    """Noise over a gradient: every encoder has real data to write, so a cut lands in it."""
    noise = Image.effect_noise(size, 64)
    ramp = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (noise, ramp, Image.new("L", size, 90)))


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def animated(fmt: str, frames: int, size: tuple[int, int] = (48, 32), **options: object) -> bytes:
    """`frames` different pictures as one animation; frame i is a flat colour with red = 10 i."""
    pictures = [Image.new("RGB", size, (10 * i, 200 - 5 * i, 40)) for i in range(frames)]
    return encoded(
        pictures[0], fmt, save_all=True, append_images=pictures[1:], duration=40, **options
    )


def png_chunk_offset(png: bytes, kind: bytes) -> int:
    """Where the chunk of this type starts (its length field)."""
    return png.index(kind) - 4


def with_png_idat_length(png: bytes, length: int) -> bytes:
    at = png_chunk_offset(png, b"IDAT")
    return png[:at] + struct.pack(">I", length) + png[at + 4 :]


def with_png_ihdr_crc_broken(png: bytes) -> bytes:
    at = png_chunk_offset(png, b"IHDR")
    crc_at = at + 8 + 13  # length, type, 13 bytes of data
    good = zlib.crc32(png[at + 4 : crc_at]) & 0xFFFFFFFF
    assert struct.unpack(">I", png[crc_at : crc_at + 4])[0] == good
    return png[:crc_at] + struct.pack(">I", good ^ 0x5A5A5A5A) + png[crc_at + 4 :]


def with_png_idat_crc_broken(png: bytes) -> bytes:
    """Pillow's decoder does not check it; validation's own chunk check must."""
    at = png_chunk_offset(png, b"IDAT")
    crc_at = at + 8 + struct.unpack(">I", png[at : at + 4])[0]
    return png[:crc_at] + bytes([png[crc_at] ^ 0x01]) + png[crc_at + 1 :]


def with_riff_size(webp: bytes, size: int) -> bytes:
    assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
    return webp[:4] + struct.pack("<I", size) + webp[8:]


def gif_cut_inside_frames(gif: bytes) -> bytes:
    """Cut in the middle of the third frame's pixel data (after its image descriptor)."""
    descriptors = [i for i in range(len(gif)) if gif[i] == 0x2C and gif[i - 8 : i - 6] == b"!\xf9"]
    assert len(descriptors) >= 4
    third, fourth = descriptors[2], descriptors[3]
    return gif[: (third + 10 + fourth) // 2]


def write(tmp_path: Path, body: bytes, name: str = "download.tmp") -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def assert_short_human_reason(error: RefreshError) -> None:
    message = error.message
    assert message.startswith("the "), message
    assert len(message) < 80, message
    assert "((" not in message and "))" not in message, message
    # None of a library's wording (it comes in brackets) reaches the person.
    assert "(" not in message, message
    assert str(error) == message


# ---- one hostile body of each kind ---------------------------------------------------------

Body = Callable[[], bytes]
TRUNCATED_OR_DAMAGED = ("truncated", "damaged")


def cut(body: bytes, fraction: float) -> bytes:
    return body[: int(len(body) * fraction)]


# (body, the format's name in the sentence, what the sentence may say about it)
HOSTILE = [
    pytest.param(
        lambda: b"\xff\xd8\xff\xe0" + random.Random(3).randbytes(4096),
        "JPEG",
        TRUNCATED_OR_DAMAGED,
        id="jpeg-header-then-garbage",
    ),
    pytest.param(lambda: b"\xff\xd8\xff\xe0", "JPEG", TRUNCATED_OR_DAMAGED, id="jpeg-header-alone"),
    pytest.param(
        lambda: cut(encoded(picture((256, 192)), "JPEG"), 0.6),
        "JPEG",
        ("truncated",),
        id="jpeg-cut-in-its-scan",
    ),
    pytest.param(
        lambda: with_png_ihdr_crc_broken(png_bytes()), "PNG", ("damaged",), id="png-bad-header-crc"
    ),
    pytest.param(
        lambda: with_png_idat_length(encoded(picture(), "PNG"), 0x00FF_FFFF),
        "PNG",
        TRUNCATED_OR_DAMAGED,
        id="png-idat-length-past-the-end",
    ),
    pytest.param(
        lambda: with_png_idat_length(encoded(picture(), "PNG"), 0xFFFF_FFF0),
        "PNG",
        TRUNCATED_OR_DAMAGED,
        id="png-idat-length-absurd",
    ),
    pytest.param(
        lambda: with_png_idat_crc_broken(encoded(picture(), "PNG")),
        "PNG",
        ("damaged",),
        id="png-bad-data-crc",
    ),
    pytest.param(
        lambda: cut(encoded(picture(), "PNG"), 0.5), "PNG", ("truncated",), id="png-cut-in-half"
    ),
    pytest.param(
        lambda: encoded(picture(), "PNG")[:-12], "PNG", ("truncated",), id="png-without-iend"
    ),
    pytest.param(
        lambda: gif_cut_inside_frames(animated("GIF", 6)),
        "GIF",
        TRUNCATED_OR_DAMAGED,
        id="gif-cut-inside-its-frames",
    ),
    pytest.param(
        lambda: with_riff_size(encoded(picture(), "WEBP"), 5),
        "WebP",
        TRUNCATED_OR_DAMAGED,
        id="webp-riff-size-too-small",
        marks=needs_webp,
    ),
    pytest.param(
        lambda: with_riff_size(encoded(picture(), "WEBP"), 50_000_000),
        "WebP",
        TRUNCATED_OR_DAMAGED,
        id="webp-riff-size-too-large",
        marks=needs_webp,
    ),
    pytest.param(
        lambda: cut(encoded(picture(), "AVIF"), 0.5),
        "AVIF",
        TRUNCATED_OR_DAMAGED,
        id="avif-cut-short",
        marks=needs_avif,
    ),
    pytest.param(
        lambda: encoded(picture(), "AVIF")[:40],
        "AVIF",
        TRUNCATED_OR_DAMAGED,
        id="avif-cut-in-its-header",
        marks=needs_avif,
    ),
]


@pytest.mark.parametrize(("body", "label", "verdicts"), HOSTILE)
def test_a_damaged_raster_body_is_not_an_image_in_a_short_sentence(
    tmp_path: Path, body: Body, label: str, verdicts: tuple[str, ...]
) -> None:
    path = write(tmp_path, body())

    with pytest.raises(RefreshError) as raised:
        validate_image(path, DEFAULT_MAX_PIXELS, thumbnail_edge=48)

    assert raised.value.reason is FailureReason.NOT_AN_IMAGE
    assert raised.value.message in {f"the {label} image is {verdict}" for verdict in verdicts}
    assert_short_human_reason(raised.value)


def test_the_library_detail_goes_to_the_debug_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="core.validation")
    path = write(tmp_path, b"\xff\xd8\xff\xe0" + random.Random(3).randbytes(4096))

    with pytest.raises(RefreshError) as raised:
        validate_image(path, DEFAULT_MAX_PIXELS)

    library_words = str(raised.value.__cause__)  # e.g. "Truncated File Read"
    assert library_words and library_words not in raised.value.message
    details = [r.getMessage() for r in caplog.records if r.name == "core.validation"]
    assert any(str(path) in d and library_words in d for d in details), details


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            b"\xef\xbb\xbf<!DOCTYPE html><html><body>Not Found</body></html>",
            "the server sent an HTML page, not an image",
            id="html-with-utf8-bom",
        ),
        pytest.param(
            b"\xef\xbb\xbf\r\n  <html lang='en'><head><title>502</title></head></html>",
            "the server sent an HTML page, not an image",
            id="html-with-bom-and-blank-lines",
        ),
        pytest.param(
            random.Random(1234).randbytes(8192),
            "the body is not a recognised image format",
            id="random-garbage",
        ),
        pytest.param(b"", "the body is not a recognised image format", id="empty-body"),
        pytest.param(
            b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'><rect x='1'",
            "the SVG image is truncated",
            id="svg-cut-short",
        ),
        pytest.param(
            b"<svg xmlns='http://www.w3.org/2000/svg'><g></svg>",
            "the SVG image is damaged",
            id="svg-mismatched-tag",
        ),
        pytest.param(
            b"<?xml version='1.0'?><!DOCTYPE svg [<!ENTITY a 'aaaaaaaaaa'>"
            b"<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>]><svg>&b;</svg>",
            "the SVG image uses XML entities, which are refused",
            id="svg-entity-expansion",
        ),
        pytest.param(
            b"<?xml version='1.0'?><note>not a picture</note>",
            "the XML document is not an SVG image",
            id="xml-not-svg",
        ),
    ],
)
def test_a_text_body_is_not_an_image_in_a_short_sentence(
    tmp_path: Path, body: bytes, message: str
) -> None:
    path = write(tmp_path, body)

    with pytest.raises(RefreshError) as raised:
        validate_image(path, DEFAULT_MAX_PIXELS)

    assert raised.value.reason is FailureReason.NOT_AN_IMAGE
    assert raised.value.message == message
    assert_short_human_reason(raised.value)


def test_a_valid_svg_still_passes_with_its_size(tmp_path: Path) -> None:
    body = b"\xef\xbb\xbf<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 120 80'/>"

    info = validate_image(write(tmp_path, body), DEFAULT_MAX_PIXELS, thumbnail_edge=48)

    assert (info.format.name, info.width, info.height, info.thumbnail) == ("SVG", 120, 80, None)


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        pytest.param("JPEG", {"quality": 90}, id="jpeg"),
        pytest.param("PNG", {}, id="png"),
        pytest.param("GIF", {}, id="gif"),
        pytest.param("WEBP", {"quality": 90}, id="webp", marks=needs_webp),
        pytest.param("AVIF", {"quality": 90}, id="avif", marks=needs_avif),
        pytest.param("BMP", {}, id="bmp"),
        pytest.param("ICO", {"sizes": [(64, 64)]}, id="ico"),
    ],
)
def test_a_whole_image_of_each_format_passes(
    tmp_path: Path, fmt: str, options: dict[str, object]
) -> None:
    size = (64, 64) if fmt == "ICO" else (96, 64)
    path = write(tmp_path, encoded(picture(size), fmt, **options))

    info = validate_image(path, DEFAULT_MAX_PIXELS, thumbnail_edge=48)

    assert info.format is RASTER_FORMATS[fmt]
    assert (info.width, info.height) == size
    assert info.thumbnail is not None
    assert max(info.thumbnail.width, info.thumbnail.height) == 48


def test_a_file_that_cannot_be_read_is_a_disk_failure_not_a_bad_image(tmp_path: Path) -> None:
    # A real read error, not a decoder's: the path is a folder (EISDIR).
    folder = tmp_path / "download.tmp"
    folder.mkdir()

    with pytest.raises(RefreshError) as raised:
        validate_image(folder, DEFAULT_MAX_PIXELS)

    assert raised.value.reason is FailureReason.DISK
    assert raised.value.message == "cannot read the download (Is a directory)"


@pytest.mark.parametrize(
    ("size", "pixels"),
    [
        pytest.param((30_000, 30_000), "900,000,000", id="pillow-error"),
        pytest.param((10_000, 10_000), "100,000,000", id="pillow-warning"),
    ],
)
def test_a_decompression_bomb_is_refused_in_a_sentence_without_library_wording(
    tmp_path: Path, size: tuple[int, int], pixels: str
) -> None:
    path = write(tmp_path, png_bomb(*size))

    with pytest.raises(RefreshError) as raised:
        validate_image(path, DEFAULT_MAX_PIXELS)

    assert raised.value.reason is FailureReason.TOO_MANY_PIXELS
    assert raised.value.message == (
        f"the image is too large to decode safely ({pixels} pixels); possible decompression bomb"
    )


# ---- the work one image may cost: frames x pixels ---------------------------------------------


def test_many_frames_on_a_big_canvas_are_refused_before_they_are_decoded(
    tmp_path: Path,
) -> None:
    # 400 frames of 300x300: each frame passes the pixel limit, together they are 90x it.
    path = write(tmp_path, gif_canvas(300, 300, 400))
    assert path.stat().st_size < 12_000

    started = time.monotonic()
    with pytest.raises(RefreshError) as raised:
        validate_image(path, max_pixels=300 * 300)
    elapsed = time.monotonic() - started

    assert raised.value.reason is FailureReason.TOO_MANY_PIXELS
    # The default budget is 4 x max_pixels: four frames are decoded, the fifth is refused.
    assert raised.value.message == (
        "the animation is too large to check safely (more than 4 frames of 300×300)"
    )
    assert elapsed < 2.0


def test_the_frame_budget_is_exact(tmp_path: Path) -> None:
    frame = 200 * 200
    five = write(tmp_path, gif_canvas(200, 200, 5), "five.gif")
    six = write(tmp_path, gif_canvas(200, 200, 6), "six.gif")

    assert validate_image(five, frame, max_total_pixels=5 * frame).format.name == "GIF"
    with pytest.raises(RefreshError) as raised:
        validate_image(six, frame, max_total_pixels=5 * frame)
    assert raised.value.message.endswith("(more than 5 frames of 200×200)")


def test_tiny_frames_still_count_against_the_budget(tmp_path: Path) -> None:
    # A 1x1 canvas cannot hide unbounded frames: each costs at least MIN_FRAME_COST_PIXELS.
    budget = 50 * MIN_FRAME_COST_PIXELS
    path = write(tmp_path, gif_canvas(1, 1, 51))

    with pytest.raises(RefreshError) as raised:
        validate_image(path, 1_000_000, max_total_pixels=budget)

    assert raised.value.reason is FailureReason.TOO_MANY_PIXELS
    assert "more than 50 frames of 1×1" in raised.value.message
    fifty = write(tmp_path, gif_canvas(1, 1, 50), "fifty.gif")
    assert validate_image(fifty, 1_000_000, max_total_pixels=budget).format.name == "GIF"


def test_the_hostile_gif_of_the_report_is_refused_in_about_a_second(tmp_path: Path) -> None:
    # The real thing: 5,000 frames on a 4000x4000 canvas, ~115 KB; ~390 CPU-seconds unbounded.
    path = write(tmp_path, gif_canvas(4000, 4000, 5000))
    assert path.stat().st_size < 120_000

    started = time.monotonic()
    with pytest.raises(RefreshError) as raised:
        validate_image(path, DEFAULT_MAX_PIXELS)

    assert raised.value.reason is FailureReason.TOO_MANY_PIXELS
    assert "frames of 4000×4000" in raised.value.message
    assert time.monotonic() - started < 15.0


def test_a_long_animation_of_ordinary_size_still_passes(tmp_path: Path) -> None:
    # 300 frames of 500x500 = 75 M decoded pixels, under the default budget (4 x 89 M).
    path = write(tmp_path, gif_canvas(500, 500, 300))

    info = validate_image(path, DEFAULT_MAX_PIXELS, thumbnail_edge=48)

    assert (info.format.name, info.width, info.height) == ("GIF", 500, 500)


@pytest.mark.parametrize(
    "fmt",
    [
        "GIF",
        "PNG",
        pytest.param("WEBP", marks=needs_webp),
        pytest.param("AVIF", marks=needs_avif),
    ],
)
def test_a_20_frame_animation_passes_with_its_first_frame_as_thumbnail(
    tmp_path: Path, fmt: str
) -> None:
    options = {"lossless": True} if fmt == "WEBP" else {}
    path = write(tmp_path, animated(fmt, 20, size=(120, 80), **options))
    with Image.open(path) as opened:
        assert getattr(opened, "n_frames", 1) == 20

    info = validate_image(path, DEFAULT_MAX_PIXELS, thumbnail_edge=48)

    assert (info.width, info.height) == (120, 80)
    assert info.thumbnail is not None
    red, green = info.thumbnail.rgba[0], info.thumbnail.rgba[1]  # every frame is one colour
    # Frame 0 is (0, 200, 40); the last frame is (190, 105, 40).
    assert red < 30 and green > 170, (red, green)


# ---- mutated bodies: an image or a RefreshError, nothing else ----------------------------------


def _valid_bodies() -> dict[str, bytes]:
    bodies = {
        "jpeg": jpeg_bytes(size=(40, 32)),
        "jpeg-progressive": encoded(picture((40, 32)), "JPEG", progressive=True),
        "png": encoded(picture((24, 16)), "PNG"),
        "apng": animated("PNG", 3, size=(16, 12)),
        "gif": animated("GIF", 3, size=(16, 12)),
    }
    if HAS_WEBP:
        bodies["webp"] = encoded(picture((24, 16)), "WEBP", quality=80)
        bodies["webp-animated"] = animated("WEBP", 3, size=(16, 12), lossless=True)
    if HAS_AVIF:
        bodies["avif"] = encoded(picture((24, 16)), "AVIF", quality=60)
    return bodies


VALID_BODIES = _valid_bodies()


@st.composite
def mutated_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(VALID_BODIES)))
    body = bytearray(VALID_BODIES[name])
    for _ in range(draw(st.integers(1, 4))):
        # Headers are where parsers trust numbers: mutate them more often than the data.
        at = draw(st.one_of(st.integers(0, min(64, len(body))), st.integers(0, len(body))))
        operation = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete", "splice"]))
        if operation == "flip" and at < len(body):
            body[at] ^= 1 << draw(st.integers(0, 7))
        elif operation == "set" and at < len(body):
            body[at] = draw(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFF]))
        elif operation == "cut":
            del body[at:]
        elif operation == "insert":
            body[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif operation == "delete":
            del body[at : at + draw(st.integers(1, 16))]
        elif operation == "splice":  # a piece of another image, as a mixed-up download would be
            other = VALID_BODIES[draw(st.sampled_from(sorted(VALID_BODIES)))]
            start = draw(st.integers(0, len(other) - 1))
            body[at:at] = other[start : start + draw(st.integers(1, 64))]
    return name, bytes(body)


@settings(
    deadline=None,
    max_examples=1500,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=mutated_bodies())
def test_a_mutated_image_is_an_image_or_a_refresh_error_nothing_else(
    tmp_path: Path, case: tuple[str, bytes]
) -> None:
    _, body = case
    path = write(tmp_path, body)  # the same file, rewritten for each example

    try:
        info = validate_image(path, max_pixels=1_000_000, thumbnail_edge=32)
    except RefreshError as error:
        assert error.reason in {FailureReason.NOT_AN_IMAGE, FailureReason.TOO_MANY_PIXELS}
        if error.reason is FailureReason.NOT_AN_IMAGE:
            assert_short_human_reason(error)
    else:
        assert isinstance(info, ImageInfo)
        assert info.format in RASTER_FORMATS.values()
        assert info.width * info.height <= 1_000_000


def test_the_bodies_the_mutations_start_from_are_valid(tmp_path: Path) -> None:
    for name, body in VALID_BODIES.items():
        info = validate_image(write(tmp_path, body, name), 1_000_000, thumbnail_edge=32)
        assert info.thumbnail is not None, name
