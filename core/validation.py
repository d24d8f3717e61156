"""Proves a downloaded body is a whole image before it may replace a cached one.

Raster formats are decoded by Pillow, which covers JPEG, PNG, GIF, WebP and AVIF (Qt's bundled
image plugins have no AVIF). SVG is parsed as XML by defusedxml, which refuses entity bombs.
On request a raster image's first frame also gives a thumbnail, from the same decode.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree
from defusedxml import DefusedXmlException
from PIL import Image, ImageSequence, UnidentifiedImageError

from core.models import FailureReason, RefreshError, Thumbnail

# Oversized pictures must be refused, never merely warned about on stderr.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


@dataclass(frozen=True, slots=True)
class ImageFormat:
    name: str
    mime_type: str
    extension: str


RASTER_FORMATS = {
    f.name: f
    for f in (
        ImageFormat("JPEG", "image/jpeg", ".jpg"),
        ImageFormat("PNG", "image/png", ".png"),
        ImageFormat("GIF", "image/gif", ".gif"),
        ImageFormat("WEBP", "image/webp", ".webp"),
        ImageFormat("AVIF", "image/avif", ".avif"),
        ImageFormat("BMP", "image/bmp", ".bmp"),
        ImageFormat("ICO", "image/x-icon", ".ico"),
    )
}
SVG = ImageFormat("SVG", "image/svg+xml", ".svg")
# JPEG is decoded at a reduced scale: every byte of the stream is still read and checked (a
# truncated or broken stream fails at any scale), at a fraction of a full-size decode's cost.
# Without a thumbnail that is the smallest scale, 1/8; a thumbnail's decode keeps at least this
# many pixels a side, twice the grid's 128 px thumbnails, so the resampling has pixels to spare.
THUMBNAIL_DRAFT_EDGE = 256
_SVG_LENGTH = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*(px)?\s*")


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: ImageFormat
    width: int
    height: int
    thumbnail: Thumbnail | None = None


def validate_image(path: Path, max_pixels: int, thumbnail_edge: int | None = None) -> ImageInfo:
    """Decode the file fully; raise RefreshError saying why it is not a usable image.

    thumbnail_edge: also return the first frame at most this many pixels on its longer side,
    resampled from the validating decode (no second decode); none for an SVG.
    """
    try:
        with Image.open(path, formats=list(RASTER_FORMATS)) as image:
            return _validate_raster(image, max_pixels, thumbnail_edge)
    except UnidentifiedImageError:
        return _validate_text_image(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _too_many_pixels(str(error)) from error


def _validate_raster(image: Image.Image, max_pixels: int, thumbnail_edge: int | None) -> ImageInfo:
    image_format = RASTER_FORMATS[str(image.format)]
    width, height = image.size
    if width * height > max_pixels:
        raise _too_many_pixels(f"{width}×{height} pixels")
    first: Image.Image | None = None
    try:
        # An animated image's first frame gives way to the next ones: a copy makes the thumbnail.
        keep_first = thumbnail_edge is not None and getattr(image, "is_animated", False)
        if image_format.name == "JPEG":
            edge = 1 if thumbnail_edge is None else max(THUMBNAIL_DRAFT_EDGE, thumbnail_edge)
            image.draft(image.mode, (edge, edge))
        for frame in ImageSequence.Iterator(image):
            frame.load()
            if keep_first and first is None:
                first = frame.copy()
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise RefreshError(
            FailureReason.NOT_AN_IMAGE,
            f"the {image_format.name} image is damaged or truncated ({error})",
        ) from error
    thumbnail = None
    if thumbnail_edge is not None:
        thumbnail = make_thumbnail(first if first is not None else image, thumbnail_edge)
    return ImageInfo(image_format, width, height, thumbnail)


def make_thumbnail(decoded: Image.Image, edge: int) -> Thumbnail | None:
    """Shrink an image in place to at most `edge` pixels on its longer side, as RGBA.

    The one recipe for every thumbnail: validation's and the window's (gui.thumbnails). On a
    loaded image (a JPEG's draft-scale decode) it reads nothing more from the file. None if
    Pillow cannot load, resample or convert it.
    """
    try:
        decoded.thumbnail((edge, edge), Image.Resampling.BILINEAR, reducing_gap=2.0)
        rgba = decoded.convert("RGBA")
    except (OSError, ValueError):
        return None
    return Thumbnail(rgba.width, rgba.height, rgba.tobytes())


def _validate_text_image(path: Path) -> ImageInfo:
    with path.open("rb") as file:
        head = file.read(512).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        raise RefreshError(FailureReason.NOT_AN_IMAGE, "the server sent an HTML page, not an image")
    if not head.startswith((b"<?xml", b"<svg", b"<!--", b"<!doctype svg")):
        raise RefreshError(FailureReason.NOT_AN_IMAGE, "the body is not a recognised image format")
    try:
        root = defusedxml.ElementTree.parse(path).getroot()
    except (ParseError, DefusedXmlException) as error:
        raise RefreshError(
            FailureReason.NOT_AN_IMAGE, f"the SVG image is damaged or truncated ({error})"
        ) from error
    if root is None or root.tag not in ("svg", "{http://www.w3.org/2000/svg}svg"):
        raise RefreshError(FailureReason.NOT_AN_IMAGE, "the XML document is not an SVG image")
    width, height = _svg_size(root.get("width"), root.get("height"), root.get("viewBox"))
    return ImageInfo(SVG, width, height)


def _svg_size(width: str | None, height: str | None, view_box: str | None) -> tuple[int, int]:
    def length(value: str | None) -> float | None:
        match = _SVG_LENGTH.fullmatch(value or "")
        return float(match.group(1)) if match else None

    w, h = length(width), length(height)
    if (w is None or h is None) and view_box:
        parts = view_box.replace(",", " ").split()
        if len(parts) == 4:
            with contextlib.suppress(ValueError):
                w, h = float(parts[2]), float(parts[3])
    return round(w or 0), round(h or 0)


def _too_many_pixels(detail: str) -> RefreshError:
    return RefreshError(
        FailureReason.TOO_MANY_PIXELS,
        f"the image is too large to decode safely ({detail}); possible decompression bomb",
    )
