"""Plain data that crosses layers: cache entries, refresh requests and their results."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from core.secrets import redact


class Action(enum.StrEnum):
    """What a refresh did to one target (the `action` field of the CLI's JSON)."""

    DOWNLOADED = "downloaded"
    CACHED = "cached"
    REFRESHED = "refreshed"
    UNCHANGED = "unchanged"
    UPDATED = "updated"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # The safety net (core.safety_net): a placeholder kept out, a kept version put back.
    REFUSED = "refused"
    REVERTED = "reverted"

    @property
    def ok(self) -> bool:
        return self not in (Action.FAILED, Action.CANCELLED, Action.REFUSED)


class RefreshMode(enum.StrEnum):
    """What a refresh does when the image is already on disk."""

    MISSING = "missing"  # nothing: download only a missing file, without a request otherwise
    FORCE = "force"  # replace it with an unconditional download (the design card's force_refresh)
    CHECK = "check"  # ask the server with the recorded validators; replace only if it changed
    REVERT = "revert"  # no request: put back the version the last replacement kept (safety net)

    @classmethod
    def from_flags(cls, force_refresh: bool, check: bool = False) -> RefreshMode:
        """The mode people name with flags (`--force`, `--check`); both at once is no mode."""
        if force_refresh and check:
            raise ValueError("force_refresh and check exclude each other")
        return cls.FORCE if force_refresh else cls.CHECK if check else cls.MISSING

    @property
    def force_refresh(self) -> bool:
        return self is RefreshMode.FORCE


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
    OUTSIDE_CACHE = "outside-cache"
    CANCELLED = "cancelled"
    UNEXPECTED = "unexpected"
    PLACEHOLDER = "placeholder"  # the new image is a placeholder (action `refused`)
    NO_VERSION = "no-version"  # a revert found no kept version


class PictureChange(enum.StrEnum):
    """How a replacement changed the picture (the `change` field of the CLI's JSON)."""

    SAME_BYTES = "same-bytes"
    SAME_PICTURE = "same-picture"  # different bytes, perceptually the same picture
    CHANGED = "changed"


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
class RefreshRequest:
    """Everything one refresh needs, as a plain value that crosses threads and processes.

    `entry` is the manifest row as the caller saw it: the refresh reads the current row itself,
    under the image's lock, and a result that cannot be made otherwise names this one's image.
    """

    entry: ImageEntry
    mode: RefreshMode
    thumbnail_edge: int | None = None  # a new raster download's result carries a thumbnail
    allow_placeholder: bool = False  # the safety net lets a placeholder replace the image

    @property
    def key(self) -> str:
        return self.entry.key

    @property
    def force_refresh(self) -> bool:
        return self.mode.force_refresh


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
class MadeVariant:
    """One derived size an adopted original's refresh (or revert) made anew: its file, and
    that file's mtime and size before (None: it was missing, and is created) and after."""

    path: Path
    before_mtime: float | None
    before_size: int | None
    after_mtime: float
    after_size: int


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """The outcome of refreshing one target, with enough facts to verify it by eye."""

    url: str | None
    category: str
    path: Path | None
    action: Action
    mode: RefreshMode
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
    change: PictureChange | None = None  # of a replacement that happened (safety net)
    note: str | None = None  # e.g. an adopted file whose new type does not match its name
    variants: tuple[MadeVariant, ...] | None = None  # an adopted original's, made anew

    @property
    def ok(self) -> bool:
        return self.action.ok

    @property
    def force_refresh(self) -> bool:
        return self.mode.force_refresh

    @property
    def same_bytes(self) -> bool:
        """A replaced file whose content did not change (a new mtime over identical bytes)."""
        return (
            self.action in (Action.REFRESHED, Action.UPDATED)
            and self.before_sha256 is not None
            and self.before_sha256 == self.after_sha256
        )

    def to_json_dict(self) -> dict[str, object]:
        """The CLI contract's JSON object for this target (secrets in the URL hidden); `note`
        and `variants` only where they apply."""
        record: dict[str, object] = {
            "url": redact(self.url),
            "path": str(self.path) if self.path else None,
            "category": self.category,
            "action": self.action.value,
            "before_mtime": self.before_mtime,
            "after_mtime": self.after_mtime,
            "bytes": self.after_size if self.ok else self.before_size,
            "sha256": self.after_sha256 if self.ok else self.before_sha256,
            "ok": self.ok,
            "error": self.error,
            "change": self.change.value if self.change else None,
        }
        if self.note is not None:
            record["note"] = self.note
        if self.variants is not None:
            record["variants"] = [str(variant.path) for variant in self.variants]
        return record
