"""Placeholders: the pictures a source sends instead of the real one ("image removed", a grey
box, a 1 × 1 pixel), and the guard that keeps them from replacing a real picture.

The user's list of placeholders belongs to the user, for every cache: a JSON file in the user
data folder (platformdirs), holding each picture's fingerprint (core.picture_change), never the
picture itself. It is read again whenever the file changes, so a placeholder marked in the window
counts at the next refresh, in every process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from filelock import FileLock

from core.models import FailureReason, RefreshError
from core.picture_change import Fingerprint
from core.settings import APP_NAME
from core.validation import validate_image

log = logging.getLogger(__name__)

PLACEHOLDERS_FILE = "placeholders.json"
# A new image at most this many pixels on a side replacing a larger one is a placeholder.
TINY_EDGE = 16


def user_placeholders_path() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / PLACEHOLDERS_FILE


@dataclass(frozen=True, slots=True)
class Placeholder:
    """A picture the user marked as a placeholder."""

    name: str
    fingerprint: Fingerprint
    added_at: float
    source: str  # where it was added from (a file's path), for the user

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "fingerprint": self.fingerprint.to_text(),
            "added_at": self.added_at,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Placeholder:
        return cls(
            str(data["name"]),
            Fingerprint.from_text(str(data["fingerprint"])),
            float(data["added_at"]),  # type: ignore[arg-type]
            str(data.get("source", "")),
        )


class PlaceholderList:
    """The user's placeholders; safe to share between threads, and between processes."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or user_placeholders_path()
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of the file as last read
        self._items: list[Placeholder] = []

    def items(self) -> list[Placeholder]:
        """The placeholders as the file holds them now (re-read only when it changed)."""
        try:
            found = self.path.stat()
        except FileNotFoundError:
            return []
        except OSError as error:
            log.warning("cannot read the placeholder list %s: %s", self.path, error)
            return []
        stamp = (found.st_mtime_ns, found.st_size)
        with self._lock:
            if stamp != self._seen:
                self._items = self._read()
                self._seen = stamp
            return list(self._items)

    def _read(self) -> list[Placeholder]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
            return [Placeholder.from_json(item) for item in data["placeholders"]]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning(
                "the placeholder list %s cannot be read (%s); no picture counts as a marked"
                " placeholder until it is fixed or removed",
                self.path,
                error,
            )
            return []

    def add(self, file: Path, max_pixels: int, name: str | None = None) -> tuple[Placeholder, bool]:
        """Mark the picture in `file` as a placeholder; return it and whether it is new (a
        picture that looks like one already marked is not added twice).

        RefreshError when the file is not a raster image.
        """
        info = validate_image(file, max_pixels, fingerprint=True)
        if info.fingerprint is None:
            raise RefreshError(
                FailureReason.NOT_AN_IMAGE,
                f"{file.name} cannot be compared by its picture (an SVG or an unusual image mode)",
            )
        with self._file_lock():
            current = self._read()
            for known in current:
                if known.fingerprint.same_picture(info.fingerprint):
                    return known, False
            added = Placeholder(name or file.name, info.fingerprint, time.time(), str(file))
            self._write([*current, added])
        log.info("marked %s as a placeholder (%s)", file, added.name)
        return added, True

    def remove(self, name: str) -> bool:
        with self._file_lock():
            current = self._read()
            kept = [item for item in current if item.name != name]
            if len(kept) == len(current):
                return False
            self._write(kept)
        return True

    def match(self, fingerprint: Fingerprint) -> Placeholder | None:
        return next((p for p in self.items() if p.fingerprint.same_picture(fingerprint)), None)

    def _file_lock(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(self.path.with_name(self.path.name + ".lock"))

    def _write(self, items: list[Placeholder]) -> None:
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        text = json.dumps({"placeholders": [item.to_json() for item in items]}, indent=1)
        try:
            with temp.open("w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)
        finally:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)


def placeholder_reason(
    new: Fingerprint | None,
    old: Fingerprint | None,
    marked: list[Placeholder],
) -> str | None:
    """Why the new picture is a placeholder that must not replace the old one, or None.

    A placeholder never replaces a real picture; when the cached picture is itself a
    placeholder (by any rule), there is nothing to protect and anything may replace it.
    Unknown pictures pass: an SVG, an old file that is no readable image (an HTML page saved as
    .jpg, which a refresh repairs).
    """
    if new is None or old is None or _why_placeholder(old, None, marked) is not None:
        return None
    return _why_placeholder(new, old, marked)


def _why_placeholder(
    picture: Fingerprint, replacing: Fingerprint | None, marked: list[Placeholder]
) -> str | None:
    for placeholder in marked:
        if placeholder.fingerprint.same_picture(picture):
            return f"the new image looks like the placeholder “{placeholder.name}” you marked"
    if min(picture.width, picture.height) <= TINY_EDGE:
        larger = (
            "" if replacing is None else f", replacing one of {replacing.width}×{replacing.height}"
        )
        return f"the new image is only {picture.width}×{picture.height} pixels{larger}"
    if picture.flat is not None:
        colour = (
            "fully transparent"
            if picture.flat == "transparent"
            else f"one flat colour ({picture.flat})"
        )
        return f"the new image is {colour}, {picture.width}×{picture.height} pixels"
    return None
