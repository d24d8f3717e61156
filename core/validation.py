"""Proves a downloaded body is a whole image before it may replace a cached one.

Raster formats are decoded by Pillow, which covers JPEG, PNG, GIF, WebP and AVIF (Qt's bundled
image plugins have no AVIF). SVG is parsed as XML by defusedxml, which refuses entity bombs.
On request a raster image's first frame also gives a thumbnail, from the same decode.

A download is hostile input: whatever a decoder raises on its bytes becomes a RefreshError with a
short sentence for a person (the library's own words go to the debug log), and the work one image
may cost is bounded: its size in pixels, and its frames × pixels.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import errors as expat_errors

import defusedxml.ElementTree
from defusedxml import DefusedXmlException
from PIL import Image, UnidentifiedImageError

from core.models import FailureReason, RefreshError, Thumbnail
from core.picture_change import Fingerprint, draft_size, fingerprint_of

log = logging.getLogger(__name__)

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
IMAGE_EXTENSIONS = [f.extension for f in (*RASTER_FORMATS.values(), SVG)]
# JPEG is decoded at a reduced scale: every byte of the stream is still read and checked (a
# truncated or broken stream fails at any scale), at a fraction of a full-size decode's cost.
# Without a thumbnail that is the smallest scale, 1/8; a thumbnail's decode keeps at least this
# many pixels a side, twice the grid's 128 px thumbnails, so the resampling has pixels to spare.
THUMBNAIL_DRAFT_EDGE = 256
# The pixels all frames of one image may decode to together, as a multiple of max_pixels.
# Each frame of an animation is decoded onto the whole canvas, so a small GIF of thousands of
# tiny frames on a huge canvas costs minutes of CPU. 4 x Pillow's default limit (89 M pixels)
# lets a 500x500 animation of 1,400 frames through and stops such a GIF after ~22 frames.
MAX_DECODED_PIXELS_FACTOR = 4
# Every frame costs at least this many pixels' worth of work (parsing, compositing, Python), so
# a 1x1 canvas cannot hide millions of frames: at most ~21,800 frames at the default limit.
MIN_FRAME_COST_PIXELS = 128 * 128
_SVG_LENGTH = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*(px)?\s*")
# How a decoder says the data ran out ("image file is truncated", "Truncated File Read",
# "Premature end of JPEG file", a header field read past the end of the file).
_TRUNCATION_WORDS = re.compile(
    r"truncat|premature end|unexpected end|end of (file|data|stream)|\beof\b|not enough data"
    r"|requires a buffer of at least",
    re.IGNORECASE,
)
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")
# What a person calls a format, where that is not Pillow's name for it.
_FORMAT_LABELS = {"WEBP": "WebP"}
# expat's errors at the end of the input: the document stops inside a tag or an element.
_XML_TRUNCATION_CODES = frozenset(
    expat_errors.codes[message]
    for message in (
        expat_errors.XML_ERROR_NO_ELEMENTS,
        expat_errors.XML_ERROR_UNCLOSED_TOKEN,
        expat_errors.XML_ERROR_PARTIAL_CHAR,
    )
)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: ImageFormat
    width: int
    height: int
    thumbnail: Thumbnail | None = None
    fingerprint: Fingerprint | None = None  # of the first frame, when asked for (safety net)


def validate_image(
    path: Path,
    max_pixels: int,
    thumbnail_edge: int | None = None,
    *,
    max_total_pixels: int | None = None,
    fingerprint: bool = False,
) -> ImageInfo:
    """Decode the file fully; raise RefreshError saying why it is not a usable image.

    thumbnail_edge: also return the first frame at most this many pixels on its longer side,
    resampled from the validating decode (no second decode); none for an SVG.
    max_total_pixels: the pixels all frames together may decode to (each frame counted at
    least MIN_FRAME_COST_PIXELS); by default MAX_DECODED_PIXELS_FACTOR × max_pixels.
    fingerprint: also return the first frame's core.picture_change fingerprint, from the same
    decode (none for an SVG).
    """
    if max_total_pixels is None:
        max_total_pixels = MAX_DECODED_PIXELS_FACTOR * max_pixels
    try:
        with Image.open(path, formats=list(RASTER_FORMATS)) as image:
            image_format = RASTER_FORMATS[str(image.format)]
            return _validate_raster(
                image, image_format, max_pixels, max_total_pixels, thumbnail_edge, path, fingerprint
            )
    except UnidentifiedImageError as error:
        # No format took the file. One whose signature it carries failed to read its header.
        name = _sniff_raster_format(path)
        if name is None:
            return _validate_text_image(path)
        raise _decoder_failure(path, name, _header_error(path, name) or error) from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        match = _BOMB_PIXELS.search(str(error))
        raise _too_many_pixels(f"{int(match.group(1)):,} pixels" if match else None) from error
    except (RefreshError, MemoryError):
        raise
    except Exception as error:  # whatever a format's header parser raises on hostile bytes
        raise _decoder_failure(path, _sniff_raster_format(path), error) from error


def _validate_raster(
    image: Image.Image,
    image_format: ImageFormat,
    max_pixels: int,
    max_total_pixels: int,
    thumbnail_edge: int | None,
    path: Path,
    want_fingerprint: bool = False,
) -> ImageInfo:
    width, height = image.size
    if width * height > max_pixels:
        raise _too_many_pixels(f"{width}×{height} pixels")
    frame_cost = max(width * height, MIN_FRAME_COST_PIXELS)
    thumbnail = None
    fingerprint = None
    frames = 0
    try:
        # An animated image's first frame gives way to the next ones: a copy makes the thumbnail.
        keep_first = thumbnail_edge is not None and getattr(image, "is_animated", False)
        if image_format.name == "PNG":
            _verify_png_chunks(path)
        if image_format.name == "JPEG":
            if thumbnail_edge is not None:
                edge = max(THUMBNAIL_DRAFT_EDGE, thumbnail_edge)
                image.draft(image.mode, (edge, edge))
            else:  # the smallest scale, or one with enough pixels for a fingerprint
                image.draft(image.mode, draft_size((width, height)) if want_fingerprint else (1, 1))
        while True:
            if frames:
                try:
                    image.seek(frames)  # parses the frame's header; load() decodes its pixels
                except EOFError:  # the sequence's end
                    break
                # Checked before the frame is decoded, which is onto the whole canvas.
                if (frames + 1) * frame_cost > max_total_pixels:
                    raise RefreshError(
                        FailureReason.TOO_MANY_PIXELS,
                        f"the animation is too large to check safely "
                        f"(more than {frames:,} frames of {width}×{height})",
                    )
            image.load()
            frames += 1
            if want_fingerprint and frames == 1:
                fingerprint = fingerprint_of(image, (width, height))
            if keep_first and frames == 1 and thumbnail_edge is not None:
                thumbnail = make_thumbnail(image.copy(), thumbnail_edge)
    except (RefreshError, MemoryError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise  # mapped by validate_image
    except Exception as error:  # whatever a decoder raises on hostile bytes
        raise _decoder_failure(path, image_format.name, error) from error
    if thumbnail_edge is not None and not keep_first:
        thumbnail = make_thumbnail(image, thumbnail_edge)
    return ImageInfo(image_format, width, height, thumbnail, fingerprint)


def _verify_png_chunks(path: Path) -> None:
    """Every chunk from the image data to IEND is whole and matches its CRC.

    Pillow's decoder reads the image data across chunk boundaries without checking either, so
    a PNG whose data chunk claims bytes past the end, or that stops before IEND, would pass.
    """
    with Image.open(path, formats=["PNG"]) as check:
        check.verify()


def make_thumbnail(decoded: Image.Image, edge: int) -> Thumbnail | None:
    """Shrink an image in place to at most `edge` pixels on its longer side, as RGBA.

    The one recipe for every thumbnail: validation's and the window's (gui.thumbnails). On a
    loaded image (a JPEG's draft-scale decode) it reads nothing more from the file. None if
    Pillow cannot load, resample or convert it.
    """
    try:
        decoded.thumbnail((edge, edge), Image.Resampling.BILINEAR, reducing_gap=2.0)
        rgba = decoded.convert("RGBA")
    except MemoryError:
        raise
    except Exception as error:  # a damaged file's load raises anything (struct.error, ...)
        log.debug("no thumbnail: %s: %s", type(error).__name__, error)
        return None
    return Thumbnail(rgba.width, rgba.height, rgba.tobytes())


def _sniff_raster_format(path: Path) -> str | None:
    """The first raster format (in Pillow's order of trying them) whose signature the file has."""
    prefix = _read_head(path, 16)
    for name in RASTER_FORMATS:
        opener = Image.OPEN.get(name)
        if opener is None:
            continue
        accept = opener[1]
        with contextlib.suppress(Exception):
            accepted = accept is None or accept(prefix)
            if accepted and not isinstance(accepted, str):
                return name
    return None


def _header_error(path: Path, name: str) -> Exception | None:
    """What the format's header parser says about the file: the detail for the log."""
    try:
        with path.open("rb") as file:
            Image.OPEN[name][0](file, str(path)).close()
    except MemoryError:
        raise
    except Exception as error:
        return error
    return None


def is_truncation(error: RefreshError) -> bool:
    """Whether a decoder's failure says the data ran out before the image did."""
    return error.reason is FailureReason.NOT_AN_IMAGE and error.message.endswith(" is truncated")


def _decoder_failure(path: Path, format_name: str | None, error: BaseException) -> RefreshError:
    """A short sentence for a decoder's exception; its own wording goes to the debug log."""
    log.debug(
        "%s is not a valid %s image: %s: %s",
        path,
        format_name or "raster",
        type(error).__name__,
        error,
    )
    if isinstance(error, OSError) and error.errno is not None:  # reading the file, not decoding
        return _cannot_read(error)
    if format_name is None:
        return RefreshError(FailureReason.NOT_AN_IMAGE, "the body is not a recognised image format")
    label = _FORMAT_LABELS.get(format_name, format_name)
    if isinstance(error, EOFError) or _TRUNCATION_WORDS.search(str(error)):
        return RefreshError(FailureReason.NOT_AN_IMAGE, f"the {label} image is truncated")
    return RefreshError(FailureReason.NOT_AN_IMAGE, f"the {label} image is damaged")


def _validate_text_image(path: Path) -> ImageInfo:
    head = _read_head(path, 512).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        raise RefreshError(FailureReason.NOT_AN_IMAGE, "the server sent an HTML page, not an image")
    if not head.startswith((b"<?xml", b"<svg", b"<!--", b"<!doctype svg")):
        raise RefreshError(FailureReason.NOT_AN_IMAGE, "the body is not a recognised image format")
    try:
        root = defusedxml.ElementTree.parse(path).getroot()
    except OSError as error:
        if error.errno is not None:
            raise _cannot_read(error) from error
        raise _svg_failure(path, error) from error
    except (RefreshError, MemoryError):
        raise
    except Exception as error:  # ParseError, DefusedXmlException, UnicodeError, ...
        raise _svg_failure(path, error) from error
    if root is None or root.tag not in ("svg", "{http://www.w3.org/2000/svg}svg"):
        raise RefreshError(FailureReason.NOT_AN_IMAGE, "the XML document is not an SVG image")
    width, height = _svg_size(root.get("width"), root.get("height"), root.get("viewBox"))
    return ImageInfo(SVG, width, height)


def _svg_failure(path: Path, error: Exception) -> RefreshError:
    log.debug("%s is not a valid SVG image: %s: %s", path, type(error).__name__, error)
    if isinstance(error, DefusedXmlException):
        return RefreshError(
            FailureReason.NOT_AN_IMAGE, "the SVG image uses XML entities, which are refused"
        )
    if isinstance(error, ParseError) and error.code in _XML_TRUNCATION_CODES:
        return RefreshError(FailureReason.NOT_AN_IMAGE, "the SVG image is truncated")
    return RefreshError(FailureReason.NOT_AN_IMAGE, "the SVG image is damaged")


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


def _read_head(path: Path, size: int) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(size)
    except OSError as error:
        raise _cannot_read(error) from error


def _cannot_read(error: OSError) -> RefreshError:
    return RefreshError(
        FailureReason.DISK, f"cannot read the download ({error.strerror or 'input/output error'})"
    )


def _too_many_pixels(detail: str | None) -> RefreshError:
    size = f" ({detail})" if detail else ""
    return RefreshError(
        FailureReason.TOO_MANY_PIXELS,
        f"the image is too large to decode safely{size}; possible decompression bomb",
    )
