"""Kept versions: the file a refresh replaced, one per image, so it can be put back (a revert).

The versions live in the cache's own state (`CacheStorage.versions_dir`, never among the
images): one file per image plus a small SQLite index that knows, for each image, its kept file,
that file's hash, size and path in the cache, and when it was kept. The total size is bounded:
past the bound the oldest kept versions are dropped first.

A kept version is made right before the new file is renamed over the old one, under the
image's lock: a hard link to the old file (no copy: a replacement renames, it never writes into
the old file), or a copy where links are not possible. It is first recorded as *pending*, then
made the image's kept version once the new file is in place. A process killed in between leaves
a pending record, settled the next time that image is touched: if the file in the cache is still
the pending one, the replacement never happened and the pending copy is dropped; otherwise it
happened and the pending copy becomes the kept version. Either way the image itself is whole:
it is only ever replaced by one rename.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from core.naming import url_hash
from core.sqlite_connections import ThreadConnections, connect
from core.sqlite_transactions import immediate_transaction

log = logging.getLogger(__name__)

INDEX_NAME = "versions.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS kept (
    key TEXT PRIMARY KEY,
    file TEXT,
    sha256 TEXT,
    size INTEGER,
    rel_path TEXT,
    kept_at REAL,
    pending_file TEXT,
    pending_sha256 TEXT,
    pending_size INTEGER,
    pending_rel_path TEXT
);
CREATE INDEX IF NOT EXISTS kept_by_age ON kept(kept_at);
"""


class VersionError(Exception):
    """The kept versions cannot be read or written (the image itself is not affected)."""


@dataclass(frozen=True, slots=True)
class KeptVersion:
    key: str
    path: Path  # the kept file, in the versions folder
    sha256: str
    size: int
    rel_path: str  # where it lived in the cache
    kept_at: float


class VersionStore:
    """The kept versions of one cache; safe to use from many threads and processes. Callers
    hold the image's lock around everything that concerns one image."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._connections = ThreadConnections(self._open_index)
        self._ready = False

    # --- reading -------------------------------------------------------------------------------
    def kept(self, key: str, current_sha256: str | None) -> KeptVersion | None:
        """The image's kept version, after settling a replacement a killed process left
        half-recorded (`current_sha256`: the hash of the file now in the cache, None if none)."""
        self.settle(key, current_sha256)
        with self._db() as db:
            row = db.execute(
                "SELECT file, sha256, size, rel_path, kept_at FROM kept"
                " WHERE key = ? AND file IS NOT NULL",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return KeptVersion(key, self.folder / row[0], row[1], row[2], row[3], row[4])

    def total_bytes(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT COALESCE(SUM(size), 0) FROM kept").fetchone()[0])

    def all_kept(self) -> list[KeptVersion]:
        """Every kept version, oldest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT key, file, sha256, size, rel_path, kept_at FROM kept"
                " WHERE file IS NOT NULL ORDER BY kept_at"
            ).fetchall()
        return [KeptVersion(r[0], self.folder / r[1], *r[2:]) for r in rows]

    # --- keeping -------------------------------------------------------------------------------
    def stage(self, key: str, current: Path, sha256: str, size: int, rel_path: str) -> Staged:
        """Keep a link to (or a copy of) the file about to be replaced, recorded as pending."""
        self.settle(key, sha256)
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{url_hash(key)}-{uuid.uuid4().hex[:12]}{current.suffix.lower()}"
        target = self.folder / name
        _link_or_copy(current, target)
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO kept (key, pending_file, pending_sha256, pending_size,"
                    " pending_rel_path) VALUES (?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
                    " pending_file = excluded.pending_file,"
                    " pending_sha256 = excluded.pending_sha256,"
                    " pending_size = excluded.pending_size,"
                    " pending_rel_path = excluded.pending_rel_path",
                    (key, name, sha256, size, rel_path),
                )
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return Staged(self, key, target)

    def settle(self, key: str, current_sha256: str | None) -> None:
        """Finish or undo what a killed process left pending for this image."""
        with self._db() as db:
            row = db.execute(
                "SELECT pending_file, pending_sha256 FROM kept WHERE key = ?", (key,)
            ).fetchone()
        if row is None or row[0] is None:
            return
        if current_sha256 == row[1]:  # the replacement never happened
            log.info("dropping a version of %s kept by a replacement that was interrupted", key)
            self._drop_pending(key)
        else:
            log.info("keeping the version of %s replaced by an interrupted run", key)
            self._commit(key)

    def _commit(self, key: str) -> None:
        with self._transaction() as db:
            row = db.execute("SELECT file, pending_file FROM kept WHERE key = ?", (key,)).fetchone()
            if row is None or row[1] is None:
                return
            db.execute(
                "UPDATE kept SET file = pending_file, sha256 = pending_sha256,"
                " size = pending_size, rel_path = pending_rel_path, kept_at = ?,"
                " pending_file = NULL, pending_sha256 = NULL, pending_size = NULL,"
                " pending_rel_path = NULL WHERE key = ?",
                (time.time(), key),
            )
        if row[0] is not None and row[0] != row[1]:
            self._remove(row[0])
        self.prune()

    def _drop_pending(self, key: str) -> None:
        with self._transaction() as db:
            row = db.execute("SELECT file, pending_file FROM kept WHERE key = ?", (key,)).fetchone()
            if row is None or row[1] is None:
                return
            if row[0] is None:
                db.execute("DELETE FROM kept WHERE key = ?", (key,))
            else:
                db.execute(
                    "UPDATE kept SET pending_file = NULL, pending_sha256 = NULL,"
                    " pending_size = NULL, pending_rel_path = NULL WHERE key = ?",
                    (key,),
                )
        self._remove(row[1])

    def move(self, old_key: str, new_key: str) -> None:
        """The image's kept version follows it to its new key (its source URL was set), unless
        the new key has one already (a removed image's, which pruning drops in time)."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM kept WHERE key = ?", (new_key,)).fetchone() is None:
                db.execute("UPDATE kept SET key = ? WHERE key = ?", (new_key, old_key))

    def forget(self, key: str) -> None:
        """Drop the image's kept version (it was put back with no file to keep in its place)."""
        with self._transaction() as db:
            row = db.execute("SELECT file FROM kept WHERE key = ?", (key,)).fetchone()
            db.execute("DELETE FROM kept WHERE key = ?", (key,))
        if row is not None and row[0] is not None:
            self._remove(row[0])

    def prune(self) -> list[str]:
        """Drop the oldest kept versions until the total is within the bound; their keys."""
        dropped: list[tuple[str, str]] = []
        with self._transaction() as db:
            total = int(db.execute("SELECT COALESCE(SUM(size), 0) FROM kept").fetchone()[0])
            if total <= self.max_bytes:
                return []
            for key, file, size in db.execute(
                "SELECT key, file, size FROM kept WHERE file IS NOT NULL AND pending_file IS NULL"
                " ORDER BY kept_at, key"
            ).fetchall():
                if total <= self.max_bytes:
                    break
                dropped.append((key, file))
                total -= size
            db.executemany("DELETE FROM kept WHERE key = ?", [(key,) for key, _ in dropped])
        for key, file in dropped:
            self._remove(file)
            log.info("dropped the kept version of %s: kept versions are bounded in size", key)
        return [key for key, _ in dropped]

    def _remove(self, name: str) -> None:
        """Delete a kept file no record names any more; one that resists only costs space."""
        try:
            (self.folder / name).unlink(missing_ok=True)
        except OSError as error:
            log.warning("cannot delete the kept version %s: %s", self.folder / name, error)

    # --- the index -----------------------------------------------------------------------------
    def _open_index(self) -> sqlite3.Connection:
        self.folder.mkdir(parents=True, exist_ok=True)
        # Threads and workers that open a new index at the same moment take turns: while one
        # switches it to WAL, SQLite fails the others at once ("database is locked").
        with FileLock(self.folder / f"{INDEX_NAME}.lock"):
            return connect(
                self.folder / INDEX_NAME,
                f"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; {_SCHEMA}",
            )

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._connections.get()
        except (sqlite3.Error, OSError) as error:
            self._connections.close_own()
            raise VersionError(
                f"the kept versions in {self.folder} cannot be used: {error}"
            ) from error

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db() as db, immediate_transaction(db):
            yield db

    def close(self) -> None:
        """Close every thread's connection: call it once the threads are done with it."""
        self._connections.close_all()


@dataclass
class Staged:
    """A kept version recorded as pending: `commit()` once the new file is in place,
    `abandon()` when it is not."""

    store: VersionStore
    key: str
    path: Path

    def commit(self) -> None:
        self.store._commit(self.key)

    def abandon(self) -> None:
        self.store._drop_pending(self.key)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
        return
    except OSError as error:
        log.debug("no hard link for the kept version (%s); copying", error)
    temp = target.with_name(target.name + ".part")
    try:
        shutil.copyfile(source, temp)
        with temp.open("rb+") as copied:
            os.fsync(copied.fileno())
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def copy_for_install(source: Path, temp: Path) -> None:
    """Copy a kept version to a temporary file (a new file: a new mtime), flushed to disk."""
    with source.open("rb") as src, temp.open("xb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())
