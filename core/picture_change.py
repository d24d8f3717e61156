"""What a picture looks like, in a few thousand bytes: enough to tell a re-encode of the same
picture from a different one, and to spot a placeholder (a flat colour, a known "removed" image).

A `Fingerprint` is the picture shrunk to a 32 × 32 colour grid by averaging (a box filter), plus
its size and whether it is a single flat colour. Two pictures are the same when their grids are
close on average and in every 4 × 4 block of cells (an eighth of the picture's width and height):
a JPEG re-encode or a 10 % resize moves them by a few levels, another picture by far more, and a
change in one corner (a new caption) shows in its block. Comparing averages rather than the bits
of a 64-bit hash keeps flat areas (grey placeholder boxes, skies, backgrounds) stable: a hash bit
that compares two nearly equal neighbours flips with every re-encode.

Made from a decode the caller already has (validation's, at a JPEG's reduced draft scale) or,
for the file a refresh is about to replace, from a draft-scale decode of its first frame. Pure
Pillow: a few box filters on at most 256 × 256 pixels, well under a millisecond.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops

from core.models import PictureChange

log = logging.getLogger(__name__)

GRID = 32  # a fingerprint is GRID x GRID RGB cells
BLOCK = 4  # compared in blocks of BLOCK x BLOCK cells
# Two pictures are the same when their cells differ by at most SAME_PICTURE_MEAN levels (0-255)
# on average and no block by more than SAME_PICTURE_BLOCK. Measured (tests/benchmarks/
# placeholder_guard.py) on the bench corpus, noisy JPEGs that are the hardest case: a re-encode
# at quality 55 and 90 % of the size moves the mean by at most ~4.2 and a block by at most 9; two
# different pictures of the corpus differ by 9.3 or more on average; the demo's pictures, where
# only a version number changes, differ by a block of 100.
SAME_PICTURE_MEAN = 6.0
SAME_PICTURE_BLOCK = 24
# A picture whose every pixel (after a box filter to at most WORK_EDGE a side) lies within this
# many levels of one colour, on every channel, is a single flat colour.
FLAT_RANGE = 6
WORK_EDGE = 256
# A JPEG is decoded for a fingerprint at the smallest draft scale that keeps this many pixels on
# its longer side: four per cell, so the grid does not alias the picture's fine detail.
DRAFT_EDGE = 4 * GRID
BACKGROUND = (128, 128, 128, 255)  # transparent pixels are judged over mid grey


@dataclass(frozen=True, slots=True)
class Fingerprint:
    width: int  # of the image itself, not of the decode the fingerprint was made from
    height: int
    flat: str | None  # "#rrggbb" or "transparent" when the picture is a single flat colour
    cells: bytes  # GRID x GRID RGB

    def difference(self, other: Fingerprint) -> tuple[float, int]:
        """How far apart the two grids are, in levels (0-255): the mean difference of a cell
        (the worst channel), and the largest mean difference of one block."""
        mine = Image.frombytes("RGB", (GRID, GRID), self.cells)
        theirs = Image.frombytes("RGB", (GRID, GRID), other.cells)
        blocks = ImageChops.difference(mine, theirs).reduce(BLOCK).tobytes()  # block means
        count = len(blocks) // 3
        mean = max(sum(blocks[channel::3]) / count for channel in range(3))
        return mean, max(blocks)

    def same_picture(self, other: Fingerprint) -> bool:
        mean, block = self.difference(other)
        return mean <= SAME_PICTURE_MEAN and block <= SAME_PICTURE_BLOCK

    def to_text(self) -> str:
        return f"{self.width}x{self.height}:{self.flat or '-'}:{self.cells.hex()}"

    @classmethod
    def from_text(cls, text: str) -> Fingerprint:
        size, flat, cells = text.split(":")
        width, height = (int(n) for n in size.split("x"))
        data = bytes.fromhex(cells)
        if len(data) != GRID * GRID * 3:
            raise ValueError("a fingerprint has the wrong length")
        return cls(width, height, None if flat == "-" else flat, data)


def fingerprint_of(image: Image.Image, size: tuple[int, int] | None = None) -> Fingerprint | None:
    """The fingerprint of a loaded image (its current frame); the image is left as it is.

    size: the image's real size when `image` is a reduced decode (a JPEG draft). None when
    Pillow cannot convert the mode (a rare 16-bit or float image): nothing is judged then.
    """
    width, height = size or image.size
    try:
        work = image
        factor = math.ceil(max(work.size) / WORK_EDGE)
        if work.mode not in ("RGB", "RGBA", "L"):
            work = work.convert("RGBA")
        if factor > 1:
            work = work.reduce(factor)
        if work.mode == "RGBA":
            alpha_low, alpha_high = _extrema(work)[3]
            if alpha_high == 0:
                return Fingerprint(width, height, "transparent", bytes(GRID * GRID * 3))
            if alpha_low < 255:
                work = Image.alpha_composite(Image.new("RGBA", work.size, BACKGROUND), work)
        work = work.convert("RGB")
        extrema = _extrema(work)
        flat = None
        if all(high - low <= FLAT_RANGE for low, high in extrema):
            middle = [(low + high) // 2 for low, high in extrema]
            flat = "#" + "".join(f"{value:02x}" for value in middle)
        cells = work.resize((GRID, GRID), Image.Resampling.BOX).tobytes()
    except MemoryError:
        raise
    except Exception as error:  # a mode Pillow cannot convert, a damaged frame
        log.debug("no fingerprint: %s: %s", type(error).__name__, error)
        return None
    return Fingerprint(width, height, flat, cells)


def draft_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size to ask of a JPEG's draft decode for a fingerprint (DRAFT_EDGE on the longer
    side; the draft gives at least that)."""
    width, height = size
    longer = max(width, height, 1)
    return (max(1, DRAFT_EDGE * width // longer), max(1, DRAFT_EDGE * height // longer))


def fingerprint_file(path: Path, max_pixels: int) -> Fingerprint | None:
    """The fingerprint of an image file's first frame, decoded at a reduced scale where the
    format allows it (JPEG: 1/8); None for a file that is no readable raster image (an SVG,
    an HTML page saved as .jpg, a damaged file)."""
    try:
        with Image.open(path) as image:
            size = image.size
            if size[0] * size[1] > max_pixels:
                return None
            if image.format == "JPEG":
                image.draft(image.mode, draft_size(size))
            image.load()
            return fingerprint_of(image, size)
    except MemoryError:
        raise
    except Exception as error:  # not an image, damaged, a decompression bomb, unreadable
        log.debug("no fingerprint of %s: %s: %s", path, type(error).__name__, error)
        return None


def classify(
    before_sha256: str | None,
    after_sha256: str | None,
    before: Fingerprint | None,
    after: Fingerprint | None,
) -> PictureChange:
    """How a replacement changed the picture; unknown pictures (SVG, unreadable) are `changed`
    unless their bytes are the same."""
    if before_sha256 is not None and before_sha256 == after_sha256:
        return PictureChange.SAME_BYTES
    if before is not None and after is not None and before.same_picture(after):
        return PictureChange.SAME_PICTURE
    return PictureChange.CHANGED


def _extrema(image: Image.Image) -> list[tuple[int, int]]:
    """(lowest, highest) of each band of an 8-bit image."""
    found: Any = image.getextrema()
    bands = [found] if image.mode == "L" else found
    return [(int(low), int(high)) for low, high in bands]
