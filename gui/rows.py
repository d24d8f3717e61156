"""What the window knows of one cached image: its manifest entry, its file and its last refresh."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from pathlib import Path

from core.models import Action, ImageEntry, RefreshResult
from core.secrets import redact
from gui.names import shown_name, source_of


class RowState(enum.Enum):
    IDLE = "idle"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class FileFacts:
    """A stat of the cached file, taken off the GUI thread."""

    mtime: float
    size: int


@dataclass(frozen=True, slots=True)
class VariantFile:
    """A derived size of an adopted original (`thumb_x.jpg` of `original_x.jpg`), as it is on
    disk now: its rule in words, and a stat taken off the GUI thread (None: no file yet)."""

    path: Path
    rule: str
    file: FileFacts | None


@dataclass(frozen=True, slots=True)
class ImageRow:
    entry: ImageEntry
    path: Path | None
    file: FileFacts | None
    state: RowState = RowState.IDLE
    result: RefreshResult | None = None
    bytes_received: int = 0

    @property
    def key(self) -> str:
        return self.entry.key

    @property
    def name(self) -> str:
        """The name people know the image by (see gui.names), not the cache's file name."""
        return shown_name(self.entry.url, self.path)

    @property
    def source(self) -> str:
        """Where it comes from, at a glance: host and folder of its URL."""
        return source_of(self.entry.url)

    @property
    def search_text(self) -> str:
        """What a search looks in: the name, the cached file's name and the URL, lower-case."""
        file_name = self.path.name if self.path else ""
        return f"{self.name} {file_name} {redact(self.entry.url) or ''}".lower()

    @property
    def thumbnail_key(self) -> tuple[str, float, int] | None:
        """Identifies one version of the file, so a refreshed image never shows an old thumbnail."""
        if self.path is None or self.file is None:
            return None
        return (str(self.path), self.file.mtime, self.file.size)

    def with_result(self, result: RefreshResult) -> ImageRow:
        state = {
            Action.FAILED: RowState.FAILED,
            Action.CANCELLED: RowState.CANCELLED,
            Action.REFUSED: RowState.FAILED,  # the safety net kept a placeholder out
        }.get(result.action, RowState.DONE)
        path = result.path or self.path
        file = (
            FileFacts(result.after_mtime, result.after_size)
            if result.after_mtime is not None and result.after_size is not None
            else self.file
        )
        entry = result.entry or replace(
            self.entry, last_outcome=result.action.value, last_error=result.error
        )
        return replace(
            self, entry=entry, path=path, file=file, state=state, result=result, bytes_received=0
        )
