"""A refresh asked for a thumbnail makes it from the decode that validated the download.

Compared with what the window's own decoder (gui.thumbnails.decode_thumbnail) does, in Pillow
terms, so these tests stay free of Qt.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from core.cache import ImageCache
from core.models import Action, RefreshMode, RefreshResult, Thumbnail
from core.validation import validate_image
from tests.server import LoopbackServer, conditional_image, image, jpeg_bytes, send, sequence

EDGE = 48


def picture(size: tuple[int, int]) -> Image.Image:
    """Gradients and shapes: a thumbnail from the wrong place or scale would not match."""
    width, height = size
    ramp = Image.linear_gradient("L").resize(size)
    across = Image.linear_gradient("L").rotate(90).resize(size)
    rgb = Image.merge("RGB", (ramp, across, Image.new("L", size, 120)))
    draw = ImageDraw.Draw(rgb)
    draw.ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=(20, 200, 40))
    draw.rectangle((0, 0, width // 5, height // 5), fill=(250, 250, 20))
    return rgb


def encoded(picture: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    picture.save(out, fmt, **options)
    return out.getvalue()


def window_thumbnail(path: Path, edge: int) -> Image.Image:
    """What gui.thumbnails.decode_thumbnail makes of a raster file, before it is a QImage."""
    with Image.open(path) as opened:
        opened.draft("RGB", (edge, edge))
        opened.thumbnail((edge, edge), Image.Resampling.BILINEAR, reducing_gap=2.0)
        return opened.convert("RGBA")


def as_image(thumbnail: Thumbnail) -> Image.Image:
    assert len(thumbnail.rgba) == thumbnail.width * thumbnail.height * 4
    return Image.frombytes("RGBA", (thumbnail.width, thumbnail.height), thumbnail.rgba)


def channel_differences(a: Image.Image, b: Image.Image) -> list[int]:
    assert a.size == b.size
    return [abs(x - y) for x, y in zip(a.tobytes(), b.tobytes(), strict=True)]


@pytest.mark.parametrize(
    ("size", "expected"), [((1024, 768), (48, 36)), ((300, 900), (16, 48)), ((40, 30), (40, 30))]
)
def test_force_refresh_returns_the_thumbnail_the_window_would_decode(
    server: LoopbackServer,
    cache: ImageCache,
    size: tuple[int, int],
    expected: tuple[int, int],
) -> None:
    body = encoded(picture(size), "JPEG", quality=85)
    url = server.route("/events/poster.jpg", image(body))
    (entry,) = cache.add_urls([url], "events")
    assert cache.refresh(entry, RefreshMode.MISSING).thumbnail is None

    result = cache.refresh(entry, RefreshMode.FORCE, thumbnail_edge=EDGE)

    assert result.action is Action.REFRESHED and result.path is not None
    assert result.thumbnail is not None
    assert (result.thumbnail.width, result.thumbnail.height) == expected  # aspect ratio kept
    # JPEG: validation's draft scale is larger than the window decoder's (1/2 against 1/8 for
    # 1024 x 768), so the pixels are close, not equal.
    made, expected_pixels = as_image(result.thumbnail), window_thumbnail(result.path, EDGE)
    differences = channel_differences(made, expected_pixels)
    assert sum(differences) / len(differences) < 2, sum(differences) / len(differences)
    assert max(differences) < 32


def test_png_thumbnail_is_exactly_the_windows(server: LoopbackServer, cache: ImageCache) -> None:
    url = server.route("/events/chart.png", image(encoded(picture((500, 400)), "PNG"), "image/png"))
    (entry,) = cache.add_urls([url], "events")

    result = cache.refresh(entry, RefreshMode.FORCE, thumbnail_edge=EDGE)

    assert result.thumbnail is not None and result.path is not None
    assert as_image(result.thumbnail).tobytes() == window_thumbnail(result.path, EDGE).tobytes()


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_an_animated_image_gives_its_first_frame(fmt: str, tmp_path: Path) -> None:
    frames = [Image.new("RGB", (120, 90), colour) for colour in ((220, 20, 20), (20, 20, 220))]
    path = tmp_path / f"animated.{fmt.lower()}"
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], lossless=True)

    info = validate_image(path, 10_000_000, thumbnail_edge=EDGE)

    assert info.thumbnail is not None
    assert (info.thumbnail.width, info.thumbnail.height) == (48, 36)
    red, green, blue, alpha = as_image(info.thumbnail).getpixel((24, 18))  # type: ignore[misc]
    assert red > 200 and green < 40 and blue < 40 and alpha == 255


def test_jpeg_draft_is_never_smaller_than_the_thumbnail(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(encoded(picture((2048, 2048)), "JPEG", quality=85))
    with Image.open(path) as opened:
        opened.draft("RGB", (256, 256))  # validation's own draft size: 1/8 scale, 256 px
        assert opened.size == (256, 256)

    info = validate_image(path, 10_000_000, thumbnail_edge=300)

    assert info.thumbnail is not None
    assert (info.thumbnail.width, info.thumbnail.height) == (300, 300)


def test_without_a_thumbnail_edge_there_is_no_thumbnail(
    server: LoopbackServer, cache: ImageCache
) -> None:
    url = server.route("/events/a.jpg", image(jpeg_bytes()))
    (entry,) = cache.add_urls([url], "events")

    result = cache.refresh(entry, RefreshMode.FORCE)

    assert result.action is Action.REFRESHED and result.thumbnail is None


@pytest.mark.warnings_expected  # failed refreshes log a WARNING
def test_failed_unchanged_and_cached_results_carry_no_thumbnail(
    server: LoopbackServer, cache: ImageCache
) -> None:
    good = server.route("/events/good.jpg", conditional_image(jpeg_bytes(), '"v1"'))
    bad = server.route(
        "/events/bad.jpg",
        sequence(image(jpeg_bytes()), send(200, b"<html>maintenance</html>", "text/html")),
    )
    good_entry, bad_entry = cache.add_urls([good, bad], "events")
    for entry in (good_entry, bad_entry):
        assert cache.refresh(entry, RefreshMode.MISSING, thumbnail_edge=EDGE).thumbnail is not None

    failed = cache.refresh(bad_entry, RefreshMode.FORCE, thumbnail_edge=EDGE)
    unchanged = cache.refresh(good_entry, RefreshMode.CHECK, thumbnail_edge=EDGE)
    cached = cache.refresh(good_entry, RefreshMode.MISSING, thumbnail_edge=EDGE)

    assert failed.action is Action.FAILED and failed.thumbnail is None
    assert unchanged.action is Action.UNCHANGED and unchanged.thumbnail is None
    assert cached.action is Action.CACHED and cached.thumbnail is None


def test_an_svg_gives_no_thumbnail(tmp_path: Path) -> None:
    path = tmp_path / "logo.svg"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"></svg>')

    info = validate_image(path, 10_000_000, thumbnail_edge=EDGE)

    assert (info.format.name, info.width, info.height, info.thumbnail) == ("SVG", 40, 20, None)


def test_a_result_with_a_thumbnail_survives_pickling(
    server: LoopbackServer, cache: ImageCache
) -> None:
    url = server.route("/events/a.jpg", image(jpeg_bytes()))
    (entry,) = cache.add_urls([url], "events")
    result = cache.refresh(entry, RefreshMode.MISSING, thumbnail_edge=EDGE)
    assert result.thumbnail is not None

    copy = pickle.loads(pickle.dumps(result))

    assert isinstance(copy, RefreshResult) and copy == result
    assert "rgba" not in repr(result.thumbnail)  # no kilobytes of pixels in a log line
