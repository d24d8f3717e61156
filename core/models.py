"""Plain data that crosses layers: cache entries, refresh requests and their results."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path


class Action(enum.StrEnum):
    """What a refresh did to one target (the `action` field of the CLI's JSON)."""

    DOWNLOADED = "downloaded"
    CACHED = "cached"
    REFRESHED = "refreshed"
    UNCHANGED = "unchanged"
    UPDATED = "updated"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def ok(self) -> bool:
        return self not in (Action.FAILED, Action.CANCELLED)


class FailureReason(enum.StrEnum):
    """Why a download was rejected; the previous file is kept in every case."""

    BAD_URL = "bad-url"
    NO_SOURCE = "no-source"
    HTTP_STATUS = "http-status"
    NETWORK = "network"
    TIMEOUT = "timeout"
    REDIRECT = "redirect"
    TRUNCATED = "truncated"
    TOO_LARGE = "too-large"
    NOT_AN_IMAGE = "not-an-image"
    TOO_MANY_PIXELS = "too-many-pixels"
    DISK = "disk"
    CANCELLED = "cancelled"
    UNEXPECTED = "unexpected"


class RefreshError(Exception):
    """A refresh that could not complete; `message` is a short sentence for a person."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class ImageEntry:
    """One manifest row: an image the cache knows, by URL or (if scanned from disk) by path."""

    url: str | None
    category: str
    rel_path: str | None
    size: int | None = None
    sha256: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    downloaded_at: float | None = None
    last_outcome: str | None = None
    last_error: str | None = None

    @property
    def key(self) -> str:
        """Identity used for locks and de-duplication: the URL, or the path of a scanned file."""
        return self.url if self.url is not None else f"path:{self.rel_path}"

    def path_in(self, cache_root: Path) -> Path | None:
        return cache_root / self.rel_path if self.rel_path else None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One past refresh of an image, as recorded in the manifest."""

    at: float
    mode: str
    force_refresh: bool
    before_mtime: float | None
    after_mtime: float | None
    before_sha256: str | None
    after_sha256: str | None
    outcome: str
    error: str | None


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """A small picture of a downloaded image, made from the decode that validated it.

    `rgba` is RGBA8888, rows of `width * 4` bytes with no padding.
    """

    width: int
    height: int
    rgba: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """The outcome of refreshing one target, with enough facts to verify it by eye."""

    url: str | None
    category: str
    path: Path | None
    action: Action
    force_refresh: bool
    before_mtime: float | None = None
    after_mtime: float | None = None
    before_size: int | None = None
    after_size: int | None = None
    before_sha256: str | None = None
    after_sha256: str | None = None
    bytes_downloaded: int = 0
    width: int | None = None
    height: int | None = None
    error: str | None = None
    reason: FailureReason | None = None
    entry: ImageEntry | None = None  # the manifest row as this refresh left it
    thumbnail: Thumbnail | None = None  # of the new file, when the caller asked for one

    @property
    def ok(self) -> bool:
        return self.action.ok

    @property
    def same_bytes(self) -> bool:
        """A replaced file whose content did not change (a new mtime over identical bytes)."""
        return (
            self.action in (Action.REFRESHED, Action.UPDATED)
            and self.before_sha256 is not None
            and self.before_sha256 == self.after_sha256
        )

    def to_json_dict(self) -> dict[str, object]:
        """The CLI contract's JSON object for this target."""
        return {
            "url": self.url,
            "path": str(self.path) if self.path else None,
            "category": self.category,
            "action": self.action.value,
            "before_mtime": self.before_mtime,
            "after_mtime": self.after_mtime,
            "bytes": self.after_size if self.ok else self.before_size,
            "sha256": self.after_sha256 if self.ok else self.before_sha256,
            "ok": self.ok,
            "error": self.error,
        }
