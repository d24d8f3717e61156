"""The cache folder on disk: its private state dir, temporary downloads, locks and atomic installs.

Every process writes its temporaries into a session folder guarded by a lock it holds while it
lives; a session folder whose lock can be taken belongs to a dead process and is removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from core.naming import url_hash

log = logging.getLogger(__name__)

STATE_DIR_NAME = ".image-refresh"


class CacheDirError(Exception):
    """The cache folder cannot be used (missing permissions, not a folder, ...)."""


class CacheStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self.state_dir = self.root / STATE_DIR_NAME
        self.manifest_path = self.state_dir / "manifest.sqlite3"
        # The versions refreshes replaced (core.versions): in our state, never among the images.
        self.versions_dir = self.state_dir / "versions"
        self._tmp_root = self.state_dir / "tmp"
        self._locks_dir = self.state_dir / "locks"
        self._session_dir: Path | None = None
        self._session_lock: FileLock | None = None

    def open(self) -> None:
        """Create the state folders, start this process's temp session, remove stale ones."""
        if self.root.exists() and not self.root.is_dir():
            raise CacheDirError(f"{self.root} is not a folder")
        try:
            self.root.mkdir(parents=True, exist_ok=True)  # the default one may be brand new
            for folder in (self.state_dir, self._tmp_root, self._locks_dir):
                folder.mkdir(exist_ok=True)
            session = f"session-{uuid.uuid4().hex}"
            lock = FileLock(self._tmp_root / f"{session}.lock")
            lock.acquire()
            (self._tmp_root / session).mkdir()
        except PermissionError as error:
            raise CacheDirError(
                f"the cache folder {self.root} is not writable ({error.strerror})"
            ) from error
        except OSError as error:
            raise CacheDirError(f"cannot use the cache folder {self.root}: {error}") from error
        self._session_dir, self._session_lock = self._tmp_root / session, lock
        self.remove_stale_temporaries()

    def close(self) -> None:
        if self._session_dir is not None:
            shutil.rmtree(self._session_dir, ignore_errors=True)
            self._session_dir = None
        if self._session_lock is not None:
            self._session_lock.release()
            Path(self._session_lock.lock_file).unlink(missing_ok=True)
            self._session_lock = None

    def remove_stale_temporaries(self) -> int:
        """Delete temp sessions left by processes that died (a crash, a kill -9)."""
        removed = 0
        for lock_path in self._tmp_root.glob("session-*.lock"):
            session_dir = lock_path.with_suffix("")
            if session_dir == self._session_dir:
                continue
            lock = FileLock(lock_path)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue  # a live process owns it
            try:
                if session_dir.exists():
                    removed += sum(1 for p in session_dir.iterdir() if p.is_file())
                    shutil.rmtree(session_dir, ignore_errors=True)
            finally:
                lock.release()
                lock_path.unlink(missing_ok=True)
        for orphan in self._tmp_root.glob("session-*"):
            if orphan.is_dir() and not orphan.with_suffix(".lock").exists():
                shutil.rmtree(orphan, ignore_errors=True)
        if removed:
            log.info("removed %d stale temporary download(s) left by an interrupted run", removed)
        return removed

    def new_temp_path(self) -> Path:
        if self._session_dir is None:
            raise RuntimeError("CacheStorage.open() was not called")
        return self._session_dir / f"{uuid.uuid4().hex}.part"

    def temporaries(self) -> list[Path]:
        return [p for p in self._tmp_root.rglob("*.part")]

    @contextlib.contextmanager
    def image_lock(self, key: str) -> Iterator[None]:
        """Serialize refreshes of one image across threads and processes."""
        with FileLock(self._locks_dir / f"{url_hash(key)}.lock"):
            yield

    def absolute(self, rel_path: str) -> Path:
        # A lexical check (no symlink lookups): names come from naming.py or the manifest.
        path = Path(os.path.normpath(self.root / rel_path))
        if not path.is_relative_to(self.root) or path.is_relative_to(self.state_dir):
            raise ValueError(f"{rel_path!r} is outside the cache folder")
        return path

    def outside_link(self, path: Path) -> str | None:
        """Where `path` really leads, when a symlink on the way (a category folder, the file
        itself) takes it out of the cache or into our state; None when it stays inside."""
        real = Path(os.path.realpath(path))
        if real.is_relative_to(self.root) and not real.is_relative_to(self.state_dir):
            return None
        return str(real)

    def relative(self, path: Path) -> str | None:
        """The cache-relative path of a file inside the cache, else None."""
        resolved = path.expanduser().resolve()
        if not resolved.is_relative_to(self.root) or resolved.is_relative_to(self.state_dir):
            return None
        return resolved.relative_to(self.root).as_posix()


def is_image_cache(root: Path) -> bool:
    """Whether the folder holds a cache's state (an empty or missing one is no cache yet)."""
    return (root.expanduser() / STATE_DIR_NAME).is_dir()


def install_atomically(temp: Path, destination: Path) -> None:
    """Rename `temp` (already fsynced) over `destination` in one step, and make it durable."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, destination)
    _fsync_directory(destination.parent)


def _fsync_directory(folder: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a directory for fsync; NTFS journals the rename.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
