"""The health of a file already in the cache: read from disk, no request (contract: "Health").

`classify_file` gives one file its verdict. It reuses the download's proof (core.validation):
every file is proven whole the way a download is, with one shortcut for the commonest case.
A plain JPEG (baseline or progressive, 8-bit, grey, colour or CMYK) is proven whole by its
structure: a walk over its markers checks that every segment is complete, reads the frame
header's size (against the pixel limit), and checks that each scan's entropy-coded data ends
at a marker and the file at End Of Image: a cut anywhere (at 50 % or at 99 %) leaves no EOI.
That skips the entropy decoding, most of the cost of a JPEG, and is what lets a scan of ten
thousand files take less time than `jpeginfo -c`; what it does not prove is that each
Huffman code in the scan data is valid (bytes damaged inside a whole file). When the walk
finds anything wrong or unusual, or with `thorough`, the file is decoded by validate_image
as a download is, and that decides (and words) the verdict.
"""

from __future__ import annotations

import enum
import hashlib
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from core.models import FailureReason, RefreshError
from core.validation import RASTER_FORMATS, is_truncation, validate_image

# A remembered verdict made by another version of these rules is not trusted.
CHECK_VERSION = 1


class Health(enum.StrEnum):
    """What a scan found a file to be."""

    OK = "ok"
    EMPTY = "empty"
    TRUNCATED = "truncated"
    NOT_AN_IMAGE = "not-an-image"
    WRONG_EXTENSION = "wrong-extension"
    TOO_LARGE = "too-large"
    MISSING = "missing"

    @property
    def ok(self) -> bool:
        return self is Health.OK

    @property
    def meaning(self) -> str:
        """One sentence for a person who has never seen the program (reports, tooltips)."""
        return _MEANINGS[self]


_MEANINGS = {
    Health.OK: "a whole image of the type its name says",
    Health.EMPTY: "the file has no bytes at all",
    Health.TRUNCATED: "the image stops part-way: the end of the file is missing",
    Health.NOT_AN_IMAGE: "the file is not a picture (an HTML error page, text or garbage)",
    Health.WRONG_EXTENSION: "a whole image, but of another type than its name says",
    Health.TOO_LARGE: "the picture has more pixels than may be decoded safely",
    Health.MISSING: "the cache knows this image, but its file is not on disk",
}
# The names an image of each format may have; the first is the one a download gets.
EXTENSIONS = {
    "JPEG": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "PNG": (".png",),
    "GIF": (".gif",),
    "WEBP": (".webp",),
    "AVIF": (".avif",),
    "BMP": (".bmp", ".dib"),
    "ICO": (".ico",),
    "SVG": (".svg",),
}
_FORMAT_LABELS = {"WEBP": "WebP"}
# Validation speaks of a download; a scan speaks of a file.
_FILE_WORDING = {
    "the server sent an HTML page, not an image": "an HTML page, not an image",
    "the body is not a recognised image format": "not a recognised image format",
}
# In JPEG entropy-coded data, 0xFF is followed by 0x00 (a stuffed byte), by 0xD0-0xD7 (a
# restart marker) or by more 0xFF fill bytes; anything else is the marker that ends the scan.
_END_OF_SCAN = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")
_JPEG_EOI, _JPEG_SOS = 0xD9, 0xDA
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})
# Frame headers: SOF0-SOF15 but DHT (C4), JPG (C8) and DAC (CC). Baseline, extended and
# progressive Huffman frames are the ones a structural proof stands for; others are decoded.
_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_PLAIN_FRAMES = frozenset({0xC0, 0xC1, 0xC2})
_Frame = tuple[int, int, int, int, int]  # marker, precision, height, width, components


@dataclass(frozen=True, slots=True)
class Verdict:
    """One file's health, with what the check saw: a plain value that crosses processes."""

    health: Health
    detail: str
    size: int | None = None  # the file's size and mtime when it was read (None: no file)
    mtime_ns: int | None = None
    sha256: str | None = None
    format: str | None = None  # Pillow's name of the image's real type
    width: int | None = None
    height: int | None = None

    @property
    def mtime(self) -> float | None:
        return None if self.mtime_ns is None else self.mtime_ns / 1e9


def classify_file(path: Path, max_pixels: int, *, thorough: bool = False) -> Verdict:
    """Read the file at `path` (never writing it) and say what it is.

    `thorough`: decode every image as a download is (a JPEG's entropy-coded data too), rather
    than proving a JPEG whole by its structure.
    """
    try:
        found = path.stat()
    except FileNotFoundError:
        return Verdict(Health.MISSING, "the cache knows this image but its file is not on disk")
    except OSError as error:
        return Verdict(Health.NOT_AN_IMAGE, f"cannot read the file ({error.strerror or error})")
    if not stat.S_ISREG(found.st_mode):
        return Verdict(Health.NOT_AN_IMAGE, "not a file (a folder or a device)")
    size, mtime_ns = found.st_size, found.st_mtime_ns
    if size == 0:
        return Verdict(Health.EMPTY, "the file is empty (0 bytes)", 0, mtime_ns)
    try:
        with path.open("rb") as file:
            data = file.read()
    except OSError as error:
        detail = f"cannot read the file ({error.strerror or error})"
        return Verdict(Health.NOT_AN_IMAGE, detail, size, mtime_ns)
    digest = hashlib.sha256(data).hexdigest()
    whole = None if thorough else _whole_jpeg(data, max_pixels)
    if whole is not None:
        width, height = whole
        return _named(path, "JPEG", width, height, size, mtime_ns, digest)
    try:
        info = validate_image(path, max_pixels)
    except RefreshError as error:
        health, detail = _failure(error, data)
        return Verdict(health, detail, size, mtime_ns, digest)
    if info.format.name == "JPEG" and _walk_markers(data)[0] is _Walk.CUT:
        # The decoder makes up the missing end of a JPEG cut just before its EOI marker.
        return Verdict(
            Health.TRUNCATED,
            "the JPEG image is truncated (no End Of Image marker)",
            size,
            mtime_ns,
            digest,
        )
    if info.format.name == "GIF" and not data.endswith(b"\x3b"):
        # Pillow takes the end of the data for the end of the animation; the trailer says so.
        return Verdict(
            Health.TRUNCATED, "the GIF image is truncated (no trailer)", size, mtime_ns, digest
        )
    return _named(path, info.format.name, info.width, info.height, size, mtime_ns, digest)


def _named(
    path: Path, name: str, width: int, height: int, size: int, mtime_ns: int, digest: str
) -> Verdict:
    """A whole image: ok, or wrong-extension when its name says another type."""
    label = _FORMAT_LABELS.get(name, name)
    names = EXTENSIONS.get(name, (RASTER_FORMATS[name].extension,))
    suffix = path.suffix.lower()
    if suffix in names:
        detail = f"{label} image, {width}×{height}"
        return Verdict(Health.OK, detail, size, mtime_ns, digest, name, width, height)
    saved_as = f"saved as {suffix}" if suffix else "saved without an extension"
    detail = f"a {label} image {saved_as} (should be {names[0]}), {width}×{height}"
    return Verdict(Health.WRONG_EXTENSION, detail, size, mtime_ns, digest, name, width, height)


def _failure(error: RefreshError, data: bytes) -> tuple[Health, str]:
    message = _FILE_WORDING.get(error.message, error.message)
    if error.reason is FailureReason.TOO_MANY_PIXELS:
        return Health.TOO_LARGE, message
    if is_truncation(error):
        return Health.TRUNCATED, message
    cut = _container_cut_short(data)
    if cut is not None:
        return Health.TRUNCATED, f"the {cut} image is truncated"
    return Health.NOT_AN_IMAGE, message


def _container_cut_short(data: bytes) -> str | None:
    """The format of a RIFF (WebP) or ISO-BMFF (AVIF) file whose boxes claim bytes past its
    end: a decoder calls it damaged, but it was cut short."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 12:
        return "WebP" if int.from_bytes(data[4:8], "little") + 8 > len(data) else None
    if data[4:8] != b"ftyp":
        return None
    at = 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        if size == 1 and at + 16 <= len(data):
            size = int.from_bytes(data[at + 8 : at + 16], "big")
        if size == 0:  # the box runs to the end of the file
            return None
        if size < 8:
            return None  # damaged, not cut
        if at + size > len(data):
            return "AVIF" if b"avi" in data[8 : min(len(data), 32)] else "HEIF"
        at += size
    return "AVIF" if at != len(data) else None


class _Walk(enum.Enum):
    WHOLE = "whole"  # every segment complete, and the scan data ends at EOI
    CUT = "cut"  # the data ends before the EOI marker does
    ODD = "odd"  # a layout this walk does not follow: the decoder decides


def _whole_jpeg(data: bytes, max_pixels: int) -> tuple[int, int] | None:
    """The size of a JPEG proven whole by its markers; None when it is not a JPEG, or is one
    that needs the decoder to say what is wrong with it (or what it is)."""
    if not data.startswith(b"\xff\xd8\xff"):
        return None
    walk, frame = _walk_markers(data)
    if walk is not _Walk.WHOLE or frame is None:
        return None
    marker, precision, height, width, components = frame
    if (
        marker not in _PLAIN_FRAMES
        or precision != 8
        or components not in (1, 3, 4)
        or not 0 < width * height <= max_pixels
    ):
        return None  # a rarer kind of JPEG, no height in its header, or too large: decode it
    return width, height


def _walk_markers(data: bytes) -> tuple[_Walk, _Frame | None]:
    """Follow a JPEG's segments from SOI to EOI, skipping over each scan's data; also the
    first frame header (SOFn: its marker, precision, height, width and components)."""
    at, end, scans = 2, len(data), 0
    frame: _Frame | None = None
    while at + 2 <= end:
        if data[at] != 0xFF:
            return _Walk.ODD, frame
        marker = data[at + 1]
        if marker == 0xFF:  # a fill byte before a marker
            at += 1
            continue
        if marker == _JPEG_EOI:
            return (_Walk.WHOLE if scans else _Walk.ODD), frame
        if marker in _STANDALONE_MARKERS:
            at += 2
            continue
        if at + 4 > end:
            return _Walk.CUT, frame
        segment_end = at + 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        if segment_end < at + 4:
            return _Walk.ODD, frame
        if segment_end > end:
            return _Walk.CUT, frame
        if marker in _FRAME_MARKERS and frame is None and segment_end - at >= 10:
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            frame = (marker, data[at + 4], height, width, data[at + 9])
        if marker != _JPEG_SOS:
            at = segment_end
            continue
        scans += 1
        found = _END_OF_SCAN.search(data, segment_end)
        if found is None:
            return _Walk.CUT, frame
        at = found.start()
    return _Walk.CUT, frame
