"""The refresh logic: download, validate, then replace the cached file, or keep it untouched.

A refresh never deletes the cached file before its replacement is proven whole: the body goes
to a temporary file on the same file system, is decoded as an image, flushed to disk and only
then renamed over the old file in one atomic step. Any failure leaves the old file as it was.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Required, TypedDict

from core import naming
from core.download_slots import DownloadGate
from core.http_client import HttpClient, ProgressCallback, Validators
from core.manifest import Manifest
from core.models import (
    Action,
    FailureReason,
    HistoryEntry,
    ImageEntry,
    RefreshError,
    RefreshResult,
    Thumbnail,
)
from core.settings import DEFAULT_CATEGORY, RefreshSettings
from core.storage import CacheStorage, install_atomically
from core.validation import validate_image

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileState:
    mtime: float
    size: int
    sha256: str | None

    @classmethod
    def read(cls, path: Path | None, *, known_sha256: str | None = None) -> FileState | None:
        """Stat the file; hash it unless `known_sha256` (the manifest's) is trusted instead."""
        if path is None:
            return None
        try:
            stat = path.stat()
            if known_sha256 is not None:
                return cls(stat.st_mtime, stat.st_size, known_sha256)
            digest = hashlib.sha256()
            with path.open("rb") as file:
                while chunk := file.read(1 << 20):
                    digest.update(chunk)
        except FileNotFoundError:
            return None
        return cls(stat.st_mtime, stat.st_size, digest.hexdigest())


class RefreshOptions(TypedDict, total=False):
    """The keyword arguments of `Refresher.refresh` that `ImageCache` passes through."""

    force_refresh: Required[bool]
    check_for_updates: bool
    cancel: threading.Event | None
    progress: ProgressCallback | None
    thumbnail_edge: int | None


class Refresher:
    """Refreshes single images of one cache; safe to call from many threads at once."""

    def __init__(
        self, storage: CacheStorage, manifest: Manifest, settings: RefreshSettings
    ) -> None:
        self.storage = storage
        self.manifest = manifest
        self.settings = settings
        self.http = HttpClient(settings)

    def refresh(
        self,
        key: str,
        *,
        force_refresh: bool,
        check_for_updates: bool = False,
        cancel: threading.Event | None = None,
        progress: ProgressCallback | None = None,
        thumbnail_edge: int | None = None,
        gate: DownloadGate | None = None,
    ) -> RefreshResult:
        """Refresh the image identified by `key` (its URL, or `path:<rel>` for a scanned file).

        force_refresh: replace the cached file with a fresh unconditional download.
        check_for_updates: ask the server with the recorded validators; 304 keeps the file.
        Neither: download only if the file is missing.
        thumbnail_edge: a new raster download's result carries a thumbnail this many pixels on
        its longer side, made by the decode that validated it (see core.validation).
        gate: passed through right before the request and left as soon as the response has
        arrived: the caller's download slot (see core.download_slots).
        """
        if force_refresh and check_for_updates:
            raise ValueError("force_refresh and check_for_updates exclude each other")
        log.info(
            "refresh %s force_refresh=%s check_for_updates=%s",
            key,
            force_refresh,
            check_for_updates,
        )
        with self.storage.image_lock(key):
            entry = self.manifest.by_key(key)
            if entry is None:
                return RefreshResult(
                    key,
                    DEFAULT_CATEGORY,
                    None,
                    Action.FAILED,
                    force_refresh,
                    error="not in the cache's manifest",
                    reason=FailureReason.NO_SOURCE,
                )
            old_path = entry.path_in(self.storage.root)
            replacing = force_refresh or check_for_updates
            # Only a replacement needs the old bytes' real hash (same-bytes check, history).
            before = FileState.read(old_path, known_sha256=None if replacing else entry.sha256)
            if cancel is not None and cancel.is_set():
                return self._finish(
                    entry,
                    before,
                    force_refresh,
                    check_for_updates,
                    RefreshError(FailureReason.CANCELLED, "cancelled"),
                )
            if before is not None and not replacing:
                log.info(
                    "cached %s at %s, no request made (mtime %.6f)", key, old_path, before.mtime
                )
                return self._result(entry, Action.CACHED, force_refresh, before, before)
            try:
                return self._download(
                    entry,
                    before,
                    force_refresh=force_refresh,
                    check_for_updates=check_for_updates,
                    cancel=cancel,
                    progress=progress,
                    thumbnail_edge=thumbnail_edge,
                    gate=gate,
                )
            except RefreshError as error:
                return self._finish(entry, before, force_refresh, check_for_updates, error)

    def _download(
        self,
        entry: ImageEntry,
        before: FileState | None,
        *,
        force_refresh: bool,
        check_for_updates: bool,
        cancel: threading.Event | None,
        progress: ProgressCallback | None,
        thumbnail_edge: int | None,
        gate: DownloadGate | None,
    ) -> RefreshResult:
        if entry.url is None:
            raise RefreshError(
                FailureReason.NO_SOURCE, "no source URL is known for this file (found on disk)"
            )
        validators = (
            Validators(entry.etag, entry.last_modified)
            if check_for_updates and before is not None
            else None
        )
        temp = self.storage.new_temp_path()
        try:
            try:
                with temp.open("xb") as out:
                    if gate is not None and not gate.wait():
                        raise RefreshError(FailureReason.CANCELLED, "cancelled")
                    try:
                        fetched = self.http.fetch(
                            entry.url,
                            out,
                            force_refresh=force_refresh,
                            validators=validators,
                            cancel=cancel,
                            progress=progress,
                        )
                    finally:
                        if gate is not None:
                            gate.done()
                    if not fetched.not_modified:
                        out.flush()
                        os.fsync(out.fileno())  # on disk before it may replace the old file
            except OSError as error:
                raise RefreshError(
                    FailureReason.DISK, f"cannot write the download ({error.strerror or error})"
                ) from error
            if fetched.not_modified:
                updated = replace(entry, last_outcome=Action.UNCHANGED.value, last_error=None)
                self._record(
                    updated,
                    before,
                    before,
                    force_refresh,
                    check_for_updates,
                    Action.UNCHANGED,
                    None,
                )
                return self._result(updated, Action.UNCHANGED, force_refresh, before, before)
            info = validate_image(temp, self.settings.max_pixels, thumbnail_edge)
            rel_path = naming.relative_path(entry.url, entry.category, info.format.extension)
            destination = self.storage.absolute(rel_path)
            old_path = entry.path_in(self.storage.root)
            if before is not None and old_path is not None:
                log.info(
                    "deleting previous file %s (mtime %.6f, %d bytes) for the new download",
                    old_path,
                    before.mtime,
                    before.size,
                )
            try:
                install_atomically(temp, destination)
                if old_path is not None and old_path != destination:
                    old_path.unlink(missing_ok=True)
            except OSError as error:
                raise RefreshError(
                    FailureReason.DISK, f"cannot store the image ({error.strerror or error})"
                ) from error
            after = FileState(destination.stat().st_mtime, fetched.bytes_written, fetched.sha256)
        finally:
            temp.unlink(missing_ok=True)
        if force_refresh:
            action = Action.REFRESHED
        elif check_for_updates and before is not None:
            action = Action.UPDATED
        else:
            action = Action.DOWNLOADED
        updated = replace(
            entry,
            rel_path=rel_path,
            size=after.size,
            sha256=after.sha256,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            content_type=info.format.mime_type,
            width=info.width,
            height=info.height,
            downloaded_at=time.time(),
            last_outcome=action.value,
            last_error=None,
        )
        self._record(updated, before, after, force_refresh, check_for_updates, action, None)
        log.info(
            "%s %s -> %s before_mtime=%s after_mtime=%.6f",
            action.value,
            entry.url,
            destination,
            f"{before.mtime:.6f}" if before else "none",
            after.mtime,
        )
        return self._result(
            updated,
            action,
            force_refresh,
            before,
            after,
            fetched.bytes_written,
            info.width,
            info.height,
            thumbnail=info.thumbnail,
        )

    def _finish(
        self,
        entry: ImageEntry,
        before: FileState | None,
        force_refresh: bool,
        check_for_updates: bool,
        error: RefreshError,
    ) -> RefreshResult:
        action = Action.CANCELLED if error.reason is FailureReason.CANCELLED else Action.FAILED
        log.log(
            logging.INFO if action is Action.CANCELLED else logging.WARNING,
            "%s %s: %s; the previous file is kept%s",
            action.value,
            entry.key,
            error.message,
            f" (mtime {before.mtime:.6f})" if before else " (there was none)",
        )
        updated = replace(entry, last_outcome=action.value, last_error=error.message)
        self._record(
            updated, before, before, force_refresh, check_for_updates, action, error.message
        )
        return self._result(updated, action, force_refresh, before, before, error=error)

    def _record(
        self,
        entry: ImageEntry,
        before: FileState | None,
        after: FileState | None,
        force_refresh: bool,
        check_for_updates: bool,
        action: Action,
        error: str | None,
    ) -> None:
        mode = "force" if force_refresh else "check" if check_for_updates else "missing"
        self.manifest.record_refresh(
            entry,
            HistoryEntry(
                at=time.time(),
                mode=mode,
                force_refresh=force_refresh,
                before_mtime=before.mtime if before else None,
                after_mtime=after.mtime if after else None,
                before_sha256=before.sha256 if before else None,
                after_sha256=after.sha256 if after else None,
                outcome=action.value,
                error=error,
            ),
        )

    def _result(
        self,
        entry: ImageEntry,
        action: Action,
        force_refresh: bool,
        before: FileState | None,
        after: FileState | None,
        bytes_downloaded: int = 0,
        width: int | None = None,
        height: int | None = None,
        error: RefreshError | None = None,
        thumbnail: Thumbnail | None = None,
    ) -> RefreshResult:
        return RefreshResult(
            url=entry.url,
            category=entry.category,
            path=entry.path_in(self.storage.root),
            action=action,
            force_refresh=force_refresh,
            before_mtime=before.mtime if before else None,
            after_mtime=after.mtime if after else None,
            before_size=before.size if before else None,
            after_size=after.size if after else None,
            before_sha256=before.sha256 if before else None,
            after_sha256=after.sha256 if after else None,
            bytes_downloaded=bytes_downloaded,
            width=width if width is not None else entry.width,
            height=height if height is not None else entry.height,
            error=error.message if error else None,
            reason=error.reason if error else None,
            entry=entry,
            thumbnail=thumbnail,
        )
