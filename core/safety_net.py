"""The safety net of a refresh: a placeholder never replaces a real picture, every replacement
says how the picture changed, and the replaced version is kept so it can be put back.

The Refresher calls it under the image's lock, at two points: right before a new file is
renamed over the old one (`before_install`, while the old file is intact), and for a revert
(`revert`). It decides and keeps; the refresh still installs, records and reports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from core.models import FailureReason, ImageEntry, PictureChange, RefreshError
from core.picture_change import classify, fingerprint_file
from core.placeholders import PlaceholderList, placeholder_reason
from core.settings import RefreshSettings
from core.storage import CacheStorage, install_atomically
from core.timestamps import format_mtime
from core.validation import ImageInfo, validate_image
from core.versions import Staged, VersionError, VersionStore, copy_for_install

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CurrentFile:
    """The file in the cache before the change: where it is and its content's hash."""

    path: Path
    rel_path: str
    sha256: str
    size: int


@dataclass
class Replacement:
    """What the safety net made of one replacement: its change, and the kept old version."""

    change: PictureChange | None
    staged: Staged | None = None

    def installed(self) -> None:
        """The new file is in place: the staged old version becomes the image's kept one."""
        if self.staged is not None:
            try:
                self.staged.commit()
            except VersionError as error:  # the image is fine; only its undo is lost
                log.error(
                    "the replaced version of %s could not be kept: %s", self.staged.key, error
                )

    def abandon(self) -> None:
        """The new file was not installed: drop the staged copy."""
        if self.staged is not None:
            try:
                self.staged.abandon()
            except VersionError as error:
                log.error("%s", error)


@dataclass(frozen=True, slots=True)
class Reverted:
    entry: ImageEntry  # the manifest row after the revert
    info: ImageInfo
    destination: Path
    sha256: str
    size: int
    change: PictureChange


class SafetyNet:
    """The placeholder guard, the change of a picture and the kept versions of one cache."""

    def __init__(
        self,
        storage: CacheStorage,
        settings: RefreshSettings,
        placeholders: PlaceholderList | None = None,
    ) -> None:
        self.storage = storage
        self.max_pixels = settings.max_pixels
        self.placeholders = placeholders or PlaceholderList()
        self.versions = VersionStore(storage.versions_dir, settings.kept_versions_bytes)

    @staticmethod
    def wants_fingerprint(current: CurrentFile | None, new_sha256: str | None) -> bool:
        """Whether the validating decode of a download should also fingerprint it: only when
        it replaces a file with other bytes (identical bytes need no judging, nothing else
        is replaced)."""
        return current is not None and current.sha256 != new_sha256

    def before_install(
        self,
        key: str,
        current: CurrentFile | None,
        new_sha256: str | None,
        new: ImageInfo,
        *,
        allow_placeholder: bool,
    ) -> Replacement:
        """Judge a download that is about to replace `current`; keep `current` as the image's
        version to revert to. RefreshError (PLACEHOLDER) when the download is a placeholder.

        The same bytes keep nothing: the version kept by an earlier change stays revertible.
        """
        if current is None:
            return Replacement(None)
        if current.sha256 == new_sha256:
            return Replacement(PictureChange.SAME_BYTES)
        old = fingerprint_file(current.path, self.max_pixels)
        if not allow_placeholder:
            reason = placeholder_reason(new.fingerprint, old, self.placeholders.items())
            if reason is not None:
                raise RefreshError(FailureReason.PLACEHOLDER, f"refused as a placeholder: {reason}")
        change = classify(current.sha256, new_sha256, old, new.fingerprint)
        return Replacement(change, self._stage(key, current))

    def _stage(self, key: str, current: CurrentFile) -> Staged | None:
        if self.versions.max_bytes <= 0:
            return None
        try:
            return self.versions.stage(
                key, current.path, current.sha256, current.size, current.rel_path
            )
        except (VersionError, OSError) as error:  # the refresh goes on without an undo
            log.error("the version of %s being replaced cannot be kept: %s", key, error)
            return None

    def _stage_for_revert(self, key: str, current: CurrentFile) -> Staged | None:
        """Keep the current file before a revert replaces it; a revert that could not be
        undone in its turn is not made."""
        if self.versions.max_bytes <= 0:
            return None
        try:
            return self.versions.stage(
                key, current.path, current.sha256, current.size, current.rel_path
            )
        except (VersionError, OSError) as error:
            raise RefreshError(
                FailureReason.DISK,
                f"cannot keep the current version, so it was not replaced ({error})",
            ) from error

    def revert(
        self,
        entry: ImageEntry,
        current: CurrentFile | None,
        *,
        thumbnail_edge: int | None,
        check_inside: Callable[[Path], None],
    ) -> Reverted:
        """Put the image's kept version back, atomically, keeping the current file in its
        place (so the revert can be reverted). RefreshError when there is nothing to revert
        to or it cannot be done; the cached file is then untouched."""
        try:
            kept = self.versions.kept(entry.key, current.sha256 if current else None)
        except VersionError as error:
            raise RefreshError(FailureReason.DISK, str(error)) from error
        if kept is None:
            raise RefreshError(
                FailureReason.NO_VERSION, "no earlier version of this image is kept to revert to"
            )
        destination = self.storage.absolute(kept.rel_path)
        check_inside(destination)
        temp = self.storage.new_temp_path(beside=destination)
        try:
            try:
                copy_for_install(kept.path, temp)
            except FileNotFoundError as error:
                raise RefreshError(
                    FailureReason.NO_VERSION, "the kept version of this image is gone"
                ) from error
            except OSError as error:
                raise RefreshError(
                    FailureReason.DISK,
                    f"cannot copy the kept version ({error.strerror or error})",
                ) from error
            info = validate_image(temp, self.max_pixels, thumbnail_edge, fingerprint=True)
            old = fingerprint_file(current.path, self.max_pixels) if current else None
            change = classify(
                current.sha256 if current else None, kept.sha256, old, info.fingerprint
            )
            staged = self._stage_for_revert(entry.key, current) if current else None
            try:
                install_atomically(temp, destination)
                if current is not None and current.path != destination:
                    current.path.unlink(missing_ok=True)
            except OSError as error:
                Replacement(change, staged).abandon()
                raise RefreshError(
                    FailureReason.DISK, f"cannot put the kept version back ({error.strerror})"
                ) from error
            if staged is not None:
                Replacement(change, staged).installed()
            else:
                self.versions.forget(entry.key)
        finally:
            temp.unlink(missing_ok=True)
        log.info(
            "reverted %s to the version kept at %s (sha256 %s…, %d bytes)",
            entry.key,
            format_mtime(kept.kept_at),
            kept.sha256[:12],
            kept.size,
        )
        updated = replace(
            entry,
            rel_path=kept.rel_path,
            size=kept.size,
            sha256=kept.sha256,
            etag=None,  # the server's validators describe the version replaced; ask anew
            last_modified=None,
            content_type=info.format.mime_type,
            width=info.width,
            height=info.height,
        )
        return Reverted(updated, info, destination, kept.sha256, kept.size, change)
