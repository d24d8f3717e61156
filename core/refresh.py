"""The refresh logic: download, validate, then replace the cached file, or keep it untouched.

A refresh never deletes the cached file before its replacement is proven whole: the body goes
to a temporary file on the same file system, is decoded as an image, flushed to disk and only
then renamed over the old file in one atomic step. Any failure leaves the old file as it was.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from dataclasses import dataclass, replace
from pathlib import Path

from core import naming
from core.cancellation import Cancellation
from core.download_slots import DownloadGate
from core.http_client import HttpClient, ProgressCallback, Validators
from core.manifest import Manifest, ManifestError
from core.models import (
    Action,
    FailureReason,
    HistoryEntry,
    ImageEntry,
    MadeVariant,
    PictureChange,
    RefreshError,
    RefreshMode,
    RefreshRequest,
    RefreshResult,
    Thumbnail,
)
from core.safety_net import CurrentFile, SafetyNet
from core.secrets import LazyRedacted, redact
from core.settings import RefreshSettings
from core.storage import CacheStorage, install_atomically, install_together, keep_access
from core.validation import validate_image
from core.variants import VariantRule, make_variant, variants_of

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileState:
    mtime: float
    size: int
    sha256: str | None

    @classmethod
    def read(cls, path: Path | None, *, known_sha256: str | None = None) -> FileState | None:
        """Stat the file; hash it unless `known_sha256` (the manifest's) is trusted instead.

        None when there is no file; RefreshError when something else stands at its path.
        """
        if path is None:
            return None
        try:
            found = path.stat()
            if not stat.S_ISREG(found.st_mode):
                raise RefreshError(
                    FailureReason.DISK, f"{path.name} in the cache is not a file (a folder?)"
                )
            if known_sha256 is not None:
                return cls(found.st_mtime, found.st_size, known_sha256)
            digest = hashlib.sha256()
            with path.open("rb") as file:
                while chunk := file.read(1 << 20):
                    digest.update(chunk)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise RefreshError(
                FailureReason.DISK, f"cannot read the cached file ({error.strerror or error})"
            ) from error
        return cls(found.st_mtime, found.st_size, digest.hexdigest())


class Refresher:
    """Refreshes single images of one cache; safe to call from many threads at once."""

    def __init__(
        self,
        storage: CacheStorage,
        manifest: Manifest,
        settings: RefreshSettings,
        variant_rules: list[VariantRule] | None = None,
    ) -> None:
        self.storage = storage
        self.manifest = manifest
        self.settings = settings
        self.variant_rules = variant_rules or []  # an adopted folder's, fixed while it is open
        self.http = HttpClient(settings)
        self.safety = SafetyNet(storage, settings)  # placeholder guard, change, kept versions

    def refresh(
        self,
        request: RefreshRequest,
        *,
        cancel: Cancellation | None = None,
        progress: ProgressCallback | None = None,
        gate: DownloadGate | None = None,
    ) -> RefreshResult:
        """Refresh one image as `request.mode` says. A failed download is a result, with the
        old file kept; only a bug raises, and the executor makes that a result too.

        gate: passed through right before the request and left as soon as the response has
        arrived: the caller's download slot (see core.download_slots).
        """
        mode = request.mode
        key = request.key
        # One INFO record per refresh, its outcome (below); this one shows with -v at DEBUG.
        log.debug(
            "refresh %s force_refresh=%s mode=%s", LazyRedacted(key), mode.force_refresh, mode.value
        )
        with self.storage.image_lock(key):
            entry = self.manifest.by_key(key)
            if entry is None:
                return RefreshResult(
                    request.entry.url,
                    request.entry.category,
                    None,
                    Action.FAILED,
                    mode,
                    error="not in the cache's manifest",
                    reason=FailureReason.NO_SOURCE,
                )
            old_path = entry.path_in(self.storage.root)
            replacing = mode is not RefreshMode.MISSING
            before: FileState | None = None
            try:
                self._check_inside(old_path or self.storage.root / entry.category)
                # Only a replacement needs the old bytes' real hash (same bytes, history).
                before = FileState.read(old_path, known_sha256=None if replacing else entry.sha256)
                if cancel is not None and cancel.is_set():
                    raise RefreshError(FailureReason.CANCELLED, "cancelled")
                if before is not None and not replacing:
                    log.info(
                        "cached %s force_refresh=%s mode=%s: no request made, %s kept (mtime %.6f)",
                        redact(key),
                        mode.force_refresh,
                        mode.value,
                        old_path,
                        before.mtime,
                    )
                    return self._result(entry, Action.CACHED, mode, before, before)
                if mode is RefreshMode.REVERT:
                    return self._revert(entry, before, request)
                return self._download(
                    entry,
                    before,
                    request,
                    cancel=cancel,
                    progress=progress,
                    gate=gate,
                )
            except RefreshError as error:
                return self._finish(entry, before, mode, error)

    def _download(
        self,
        entry: ImageEntry,
        before: FileState | None,
        request: RefreshRequest,
        *,
        cancel: Cancellation | None,
        progress: ProgressCallback | None,
        gate: DownloadGate | None,
    ) -> RefreshResult:
        mode = request.mode
        if entry.url is None:
            raise RefreshError(FailureReason.NO_SOURCE, "no known source URL for this file")
        validators = (
            Validators(entry.etag, entry.last_modified)
            if mode is RefreshMode.CHECK and before is not None
            else None
        )
        old_path = entry.path_in(self.storage.root)
        # An adopted file is replaced at its own path and name, whatever type arrives.
        in_place = old_path if self.storage.adopted else None
        temp = self.storage.new_temp_path(beside=in_place or self.storage.root)
        made: list[tuple[Path, Path]] = []  # an adopted original's variants: (temp, path)
        variants_before: list[os.stat_result | None] = []  # the files they replace
        try:
            try:
                with temp.open("xb") as out:
                    if gate is not None and not gate.wait():
                        raise RefreshError(FailureReason.CANCELLED, "cancelled")
                    try:
                        fetched = self.http.fetch(
                            entry.url,
                            out,
                            force_refresh=mode.force_refresh,
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
                log.info(
                    "unchanged %s force_refresh=%s mode=%s: status=304, the cached file is kept"
                    " (mtime %s)",
                    redact(entry.url),
                    mode.force_refresh,
                    mode.value,
                    f"{before.mtime:.6f}" if before else "none",
                )
                updated = replace(entry, last_outcome=Action.UNCHANGED.value, last_error=None)
                self._record(updated, before, before, mode, Action.UNCHANGED, None)
                return self._result(updated, Action.UNCHANGED, mode, before, before)
            current = _current_file(entry, before, self.storage.root)
            info = validate_image(
                temp,
                self.settings.max_pixels,
                request.thumbnail_edge,
                fingerprint=self.safety.wants_fingerprint(current, fetched.sha256),
            )
            if in_place is not None and entry.rel_path is not None:
                rel_path, destination = entry.rel_path, in_place
                note = _type_note(destination, info.format.extension, info.format.name)
                made = self._make_variants(temp, destination)
            else:
                rel_path = naming.relative_path(entry.url, entry.category, info.format.extension)
                destination = self.storage.absolute(rel_path)
                note = None
            self._check_inside(destination)  # where the file is written, as it is now
            # Safety net: refuse a placeholder, keep the old file to revert to (raises).
            replacement = self.safety.before_install(
                entry.key,
                current,
                fetched.sha256,
                info,
                allow_placeholder=request.allow_placeholder,
            )
            if before is not None and old_path is not None:
                log.debug(
                    "deleting previous file %s (mtime %.6f, %d bytes) for the new download",
                    old_path,
                    before.mtime,
                    before.size,
                )
            try:
                if in_place is not None:
                    keep_access(destination, temp)
                    variants_before = [_stat_or_none(path) for _, path in made]
                    # the variants first: the original is replaced last, or nothing is
                    install_together([*made, (temp, destination)], self.storage.new_temp_path)
                else:
                    install_atomically(temp, destination)
                if old_path is not None and old_path != destination:
                    old_path.unlink(missing_ok=True)
            except OSError as error:
                replacement.abandon()
                raise RefreshError(
                    FailureReason.DISK, f"cannot store the image ({error.strerror or error})"
                ) from error
            replacement.installed()
            after = FileState(destination.stat().st_mtime, fetched.bytes_written, fetched.sha256)
        finally:
            temp.unlink(missing_ok=True)
            for variant_temp, _ in made:
                variant_temp.unlink(missing_ok=True)
        if mode is RefreshMode.FORCE:
            action = Action.REFRESHED
        elif mode is RefreshMode.CHECK and before is not None:
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
        try:
            self._record(updated, before, after, mode, action, None)
        except ManifestError as error:  # the new image is in place: say so, and why not noted
            log.error(
                "%s %s, but the manifest could not record it: %s", action, redact(entry.url), error
            )
        log.info(
            "%s %s force_refresh=%s mode=%s: status=%d bytes=%d -> %s, %s before_mtime=%s"
            " after_mtime=%.6f",
            action.value,
            redact(entry.url),
            mode.force_refresh,
            mode.value,
            fetched.status,
            fetched.bytes_written,
            destination,
            f"previous file deleted ({before.size} bytes);" if before else "no previous file;",
            f"{before.mtime:.6f}" if before else "none",
            after.mtime,
        )
        return self._result(
            updated,
            action,
            mode,
            before,
            after,
            fetched.bytes_written,
            info.width,
            info.height,
            thumbnail=info.thumbnail,
            change=replacement.change,
            note=note,
            variants=_made_variants(made, variants_before) if in_place is not None else None,
        )

    def _revert(
        self, entry: ImageEntry, before: FileState | None, request: RefreshRequest
    ) -> RefreshResult:
        """Put back the version the last replacement kept (core.safety_net); RefreshError if
        there is none."""
        reverted = self.safety.revert(
            entry,
            _current_file(entry, before, self.storage.root),
            thumbnail_edge=request.thumbnail_edge,
            check_inside=self._check_inside,
        )
        variants = self._remake_variants(reverted.destination) if self.storage.adopted else None
        after = FileState(reverted.destination.stat().st_mtime, reverted.size, reverted.sha256)
        updated = replace(reverted.entry, last_outcome=Action.REVERTED.value, last_error=None)
        self._record(updated, before, after, request.mode, Action.REVERTED, None)
        return self._result(
            updated,
            Action.REVERTED,
            request.mode,
            before,
            after,
            width=reverted.info.width,
            height=reverted.info.height,
            thumbnail=reverted.info.thumbnail,
            change=reverted.change,
            variants=variants,
        )

    def _remake_variants(self, original: Path) -> tuple[MadeVariant, ...]:
        """An adopted original's variants, made anew from it as it is now (after a revert, so
        they revert with it); an error is logged, the original's revert stands."""
        made: list[tuple[Path, Path]] = []
        try:
            made = self._make_variants(original, original)
            before = [_stat_or_none(path) for _, path in made]
            install_together(made, self.storage.new_temp_path)
            return _made_variants(made, before)
        except (RefreshError, OSError) as error:
            log.error("the variants of %s were not remade after its revert: %s", original, error)
            return ()
        finally:
            _remove_all(made)

    def _make_variants(self, original: Path, destination: Path) -> list[tuple[Path, Path]]:
        """Each variant of the adopted `destination`, made anew from its new version `original`
        into a temporary beside it; RefreshError (and none kept) if one cannot be made."""
        made: list[tuple[Path, Path]] = []
        try:
            for rule, variant in variants_of(destination, self.variant_rules):
                self._check_inside(variant)
                temp = self.storage.new_temp_path(beside=variant)
                made.append((temp, variant))
                make_variant(original, rule, temp, like=variant)
                keep_access(variant if variant.exists() else destination, temp)
        except RefreshError:
            _remove_all(made)
            raise
        except Exception as error:  # OSError, or Pillow's for a picture it cannot resize
            _remove_all(made)
            raise RefreshError(
                FailureReason.DISK if isinstance(error, OSError) else FailureReason.NOT_AN_IMAGE,
                f"cannot make the variant {made[-1][1].name if made else ''}"
                f" ({getattr(error, 'strerror', None) or error}); nothing was replaced",
            ) from error
        return made

    def _check_inside(self, path: Path) -> None:
        target = self.storage.outside_link(path)
        if target is not None:
            raise RefreshError(
                FailureReason.OUTSIDE_CACHE,
                f"{path.relative_to(self.storage.root)} links outside the cache (to {target});"
                " nothing is written there",
            )

    def _finish(
        self,
        entry: ImageEntry,
        before: FileState | None,
        mode: RefreshMode,
        error: RefreshError,
    ) -> RefreshResult:
        action = {
            FailureReason.CANCELLED: Action.CANCELLED,
            FailureReason.PLACEHOLDER: Action.REFUSED,  # the safety net's
        }.get(error.reason, Action.FAILED)
        log.log(
            logging.INFO if action is Action.CANCELLED else logging.WARNING,
            "%s %s force_refresh=%s mode=%s: %s; the previous file is kept%s",
            action.value,
            redact(entry.key),
            mode.force_refresh,
            mode.value,
            error.message,
            f" (mtime {before.mtime:.6f})" if before else " (there was none)",
        )
        updated = replace(entry, last_outcome=action.value, last_error=error.message)
        self._record(updated, before, before, mode, action, error.message)
        return self._result(updated, action, mode, before, before, error=error)

    def _record(
        self,
        entry: ImageEntry,
        before: FileState | None,
        after: FileState | None,
        mode: RefreshMode,
        action: Action,
        error: str | None,
    ) -> None:
        self.manifest.record_refresh(
            entry,
            HistoryEntry(
                at=time.time(),
                mode=mode.value,
                force_refresh=mode.force_refresh,
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
        mode: RefreshMode,
        before: FileState | None,
        after: FileState | None,
        bytes_downloaded: int = 0,
        width: int | None = None,
        height: int | None = None,
        error: RefreshError | None = None,
        thumbnail: Thumbnail | None = None,
        change: PictureChange | None = None,
        note: str | None = None,
        variants: tuple[MadeVariant, ...] | None = None,
    ) -> RefreshResult:
        return RefreshResult(
            url=entry.url,
            category=entry.category,
            path=entry.path_in(self.storage.root),
            action=action,
            mode=mode,
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
            change=change,
            note=note,
            variants=variants,
        )


def _type_note(path: Path, extension: str, format_name: str) -> str | None:
    """A note when an adopted file's new type does not match its name (it keeps the name)."""
    same = {".jpg": {".jpg", ".jpeg", ".jpe"}, ".avif": {".avif", ".avifs"}}
    if path.suffix.lower() in same.get(extension, {extension}):
        return None
    return f"the server sent a {format_name} image; kept the name {path.name}"


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _made_variants(
    made: list[tuple[Path, Path]], before: list[os.stat_result | None]
) -> tuple[MadeVariant, ...]:
    """The variants now in place, with the files they replaced (`before`, in the same order)."""
    variants = []
    for (_, path), old in zip(made, before, strict=True):
        new = path.stat()
        variants.append(
            MadeVariant(
                path,
                old.st_mtime if old else None,
                old.st_size if old else None,
                new.st_mtime,
                new.st_size,
            )
        )
    return tuple(variants)


def _remove_all(made: list[tuple[Path, Path]]) -> None:
    for temp, _ in made:
        temp.unlink(missing_ok=True)


def _current_file(entry: ImageEntry, before: FileState | None, root: Path) -> CurrentFile | None:
    """The cached file a replacement would replace, for the safety net."""
    path = entry.path_in(root)
    if before is None or before.sha256 is None or path is None or entry.rel_path is None:
        return None
    return CurrentFile(path, entry.rel_path, before.sha256, before.size)
