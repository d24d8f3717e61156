"""The cache folder on disk: its private state dir, temporary downloads, locks and atomic installs.

Every process writes its temporaries into a session folder guarded by a lock it holds while it
lives; a session folder whose lock can be taken belongs to a dead process and is removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import platformdirs
from filelock import FileLock, Timeout

try:
    import fcntl
except ImportError:  # Windows: filelock's msvcrt locks instead
    fcntl = None  # type: ignore[assignment]

from core.naming import url_hash
from core.settings import APP_NAME

log = logging.getLogger(__name__)

STATE_DIR_NAME = ".image-refresh"
ADOPTED_MARK = "adopted-folder.txt"  # in an adopted folder's state dir: the folder's real path
ADOPTED_TEMP_SUFFIX = ".image-refresh-part"  # a download beside its target in an adopted folder
BESIDE_LIST = "temporaries-beside-images.txt"  # in a session dir: those it made


class CacheDirError(Exception):
    """The cache folder cannot be used (missing permissions, not a folder, ...)."""


def adopted_state_dir(root: Path) -> Path:
    """Where the state of an adopted folder lives: the user data folder, keyed by its real path,
    so that nothing of ours is ever left in the folder itself."""
    real = str(root.expanduser().resolve())
    key = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return user_data_dir() / "adopted" / key


def is_adopted(root: Path) -> bool:
    return (adopted_state_dir(root) / ADOPTED_MARK).is_file()


def is_image_cache(root: Path) -> bool:
    """Whether the folder is a cache of our own layout or an adopted one (an empty or missing
    folder is no cache yet)."""
    return (root.expanduser() / STATE_DIR_NAME).is_dir() or is_adopted(root)


class CacheStorage:
    """The files of one cache: its images under `root`, and its state (manifest, locks,
    temporary downloads) in `state_dir`: inside the cache for our own layout, in the user data
    folder for an adopted one (see `for_folder`)."""

    def __init__(self, root: Path, *, adopted: bool = False) -> None:
        self.root = root.expanduser().resolve()
        self.adopted = adopted
        self.state_dir = adopted_state_dir(self.root) if adopted else self.root / STATE_DIR_NAME
        self.manifest_path = self.state_dir / "manifest.sqlite3"
        # The versions refreshes replaced (core.versions): in our state, never among the images.
        self.versions_dir = self.state_dir / "versions"
        self._tmp_root = self.state_dir / "tmp"
        self._locks_dir = self.state_dir / "locks"
        self._session_dir: Path | None = None
        self._session_lock: FileLock | None = None

    @classmethod
    def for_folder(cls, root: Path) -> CacheStorage:
        """The storage of an existing cache of either layout; a new one is of our own layout."""
        own = (root.expanduser() / STATE_DIR_NAME).is_dir()
        return cls(root, adopted=not own and is_adopted(root))

    def open(self) -> None:
        """Create the state folders, start this process's temp session, remove stale ones."""
        if self.root.exists() and not self.root.is_dir():
            raise CacheDirError(f"{self.root} is not a folder")
        try:
            if not self.adopted:
                self.root.mkdir(parents=True, exist_ok=True)  # the default one may be new
            elif not self.root.is_dir():
                raise CacheDirError(f"the adopted folder {self.root} is gone")
            for folder in (self.state_dir, self._tmp_root, self._locks_dir):
                folder.mkdir(parents=True, exist_ok=True)
            if self.adopted:
                (self.state_dir / ADOPTED_MARK).write_text(f"{self.root}\n", "utf-8")
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
                    removed += sum(1 for p in session_dir.iterdir() if p.suffix == ".part")
                    removed += self._remove_temporaries_beside_images(session_dir)
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

    def new_temp_path(self, beside: Path) -> Path:
        """A fresh path for the next version of `beside`, on its file system.

        Our own layout keeps temporaries in the state folder. An adopted folder's state may
        live on another file system, where a rename could not be atomic, so its temporary sits
        beside its target under a hidden name; the session's list of them lets the next start
        remove what a crash left, without walking the folder.
        """
        if self._session_dir is None:
            raise RuntimeError("CacheStorage.open() was not called")
        if not self.adopted:
            return self._session_dir / f"{uuid.uuid4().hex}.part"
        temp = beside.with_name(f".{beside.name}.{uuid.uuid4().hex[:12]}{ADOPTED_TEMP_SUFFIX}")
        with (self._session_dir / BESIDE_LIST).open("a", encoding="utf-8") as listed:
            listed.write(f"{temp}\n")
        return temp

    def temporaries(self) -> list[Path]:
        found = list(self._tmp_root.rglob("*.part"))
        for listed in self._tmp_root.glob(f"session-*/{BESIDE_LIST}"):
            found += [p for p in _listed_paths(listed) if p.exists()]
        return found

    def _remove_temporaries_beside_images(self, session_dir: Path) -> int:
        removed = 0
        for path in _listed_paths(session_dir / BESIDE_LIST):
            if path.name.endswith(ADOPTED_TEMP_SUFFIX) and path.exists():
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    @contextlib.contextmanager
    def image_lock(self, key: str) -> Iterator[None]:
        """Serialize refreshes of one image across threads and processes.

        A bare flock() where there is one: each open file takes the lock on its own, so threads
        of one process exclude each other as processes do, and the kernel drops the lock of a
        killed process. filelock's own bookkeeping costs some 0.3 ms a refresh more.
        """
        path = self._locks_dir / f"{url_hash(key)}.lock"
        if fcntl is None:
            with FileLock(path):
                yield
            return
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # gives the lock back

    def absolute(self, rel_path: str) -> Path:
        # A lexical check (no symlink lookups): names come from naming.py or the manifest.
        path = os.path.normpath(os.path.join(self.root, rel_path))
        if not self._inside(path):
            raise ValueError(f"{rel_path!r} is outside the cache folder")
        return Path(path)

    def outside_link(self, path: Path) -> str | None:
        """Where `path` really leads, when a symlink on the way (a category folder, the file
        itself) takes it out of the cache or into our state; None when it stays inside."""
        lexical = os.path.normpath(path)
        # The root is resolved: only a link below it can lead out, so only the few names below
        # it are looked at (realpath looks at every folder from /, a cost on every refresh).
        if self._inside(lexical) and not any(
            os.path.islink(below) for below in _folders_down_to(self.root, lexical)
        ):
            return None
        real = os.path.realpath(path)
        return None if self._inside(real) else real

    def _inside(self, path: str) -> bool:
        """Whether the normalized absolute `path` is in the cache and not in our state."""
        root, state = str(self.root), str(self.state_dir)
        return (path == root or path.startswith(root + os.sep)) and not (
            path == state or path.startswith(state + os.sep)
        )

    def relative(self, path: Path) -> str | None:
        """The cache-relative path of a file inside the cache, else None."""
        resolved = path.expanduser().resolve()
        if not resolved.is_relative_to(self.root) or resolved.is_relative_to(self.state_dir):
            return None
        return resolved.relative_to(self.root).as_posix()


def _folders_down_to(root: Path, path: str) -> Iterator[str]:
    """Each path from the one below `root` down to `path` (inside it), `path` included."""
    below = str(root)
    for name in path[len(below) + 1 :].split(os.sep):
        below = os.path.join(below, name)
        yield below


def _listed_paths(listed: Path) -> list[Path]:
    try:
        return [Path(line) for line in listed.read_text("utf-8").splitlines() if line]
    except (OSError, UnicodeDecodeError):
        return []


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def install_atomically(temp: Path, destination: Path) -> None:
    """Rename `temp` (already fsynced) over `destination` in one step, and make it durable."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, destination)
    _fsync_directory(destination.parent)


def install_together(pairs: list[tuple[Path, Path]], backup_path: Callable[[Path], Path]) -> None:
    """Rename each (temp, destination) in order; if one fails, put back the ones already
    replaced, so the group changes together or not at all. `backup_path(destination)` names
    where a replaced file waits (a hard link) until the whole group is in place."""
    replaced: list[tuple[Path, Path | None]] = []
    try:
        for temp, destination in pairs:
            backup = None
            if destination.exists():
                backup = backup_path(destination)
                os.link(destination, backup)
            replaced.append((destination, backup))
            install_atomically(temp, destination)
    except OSError:
        for destination, backup in reversed(replaced):
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, destination)
                elif destination.exists():
                    destination.unlink()
        raise
    finally:
        for _, backup in replaced:
            if backup is not None:
                backup.unlink(missing_ok=True)


def keep_access(previous: Path, replacement: Path) -> None:
    """Give the replacement the permission bits (and, where allowed, the owner) of the file it
    replaces: a web server that could serve the old file serves the new one."""
    try:
        before = previous.stat()
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.chmod(replacement, stat.S_IMODE(before.st_mode))
    with contextlib.suppress(OSError):
        os.chown(replacement, before.st_uid, before.st_gid)


def _fsync_directory(folder: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a directory for fsync; NTFS journals the rename.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
