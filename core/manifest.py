"""The manifest: one SQLite row per cached image plus a history of refreshes.

Each operation opens its own short connection and transaction, so threads and processes can
share the file (WAL mode, a busy timeout) without holding locks across network I/O.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import fields
from pathlib import Path

from filelock import FileLock

from core.models import HistoryEntry, ImageEntry
from core.sqlite_connections import ThreadConnections, connect
from core.sqlite_transactions import immediate_transaction

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    url TEXT UNIQUE,
    category TEXT NOT NULL,
    rel_path TEXT UNIQUE,
    size INTEGER,
    sha256 TEXT,
    etag TEXT,
    last_modified TEXT,
    content_type TEXT,
    width INTEGER,
    height INTEGER,
    downloaded_at REAL,
    last_outcome TEXT,
    last_error TEXT
);
CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    at REAL NOT NULL,
    mode TEXT NOT NULL,
    force_refresh INTEGER NOT NULL,
    before_mtime REAL,
    after_mtime REAL,
    before_sha256 TEXT,
    after_sha256 TEXT,
    outcome TEXT NOT NULL,
    error TEXT
);
CREATE INDEX history_by_image ON history(image_id, at);
"""
_ENTRY_COLUMNS = [f.name for f in fields(ImageEntry)]
_SELECT = f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM images"


# SQLite reports a write that found no room as a mere "disk I/O error" at times (extending its
# shared-memory file): with less free space than this, that is a full disk.
_FULL_DISK_FREE_BYTES = 1 << 20


class ManifestError(Exception):
    """The manifest cannot be used now; the message names the cause and what to do about it.
    Images are never touched."""


class ManifestDamagedError(ManifestError):
    """The manifest file is not a readable database: the cache rebuilds it (see ImageCache)."""


def _describe_failure(path: Path, error: sqlite3.Error) -> ManifestError:
    """The real cause of a failed manifest operation, in words that lose nothing: only a file
    SQLite finds corrupt, or no database at all, is damaged (and then rebuilt)."""
    name = getattr(error, "sqlite_errorname", "") or ""
    cache = path.parent.parent
    kept = "Your images and their source URLs are kept."
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return ManifestDamagedError(f"the manifest {path} is damaged ({error})")
    if name.startswith("SQLITE_FULL") or (name.startswith("SQLITE_IOERR") and _disk_full(path)):
        return ManifestError(
            f"the disk holding the cache {cache} is full; free some space and run again. {kept}"
        )
    if name.startswith("SQLITE_READONLY"):
        return ManifestError(f"the cache folder {cache} cannot be written (read-only). {kept}")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return ManifestError(
            f"the manifest {path} is locked by another program; run again when it is done. {kept}"
        )
    return ManifestError(f"cannot use the manifest {path} ({error}). {kept}")


def _insert_new_files(db: sqlite3.Connection, files: Iterable[ImageEntry]) -> int:
    """Rows for files found on disk, but none over a path already known; how many were new."""
    before = db.total_changes
    db.executemany(
        f"INSERT INTO images ({', '.join(_ENTRY_COLUMNS)})"
        f" VALUES ({', '.join('?' for _ in _ENTRY_COLUMNS)})"
        " ON CONFLICT(rel_path) DO NOTHING",
        [tuple(getattr(e, c) for c in _ENTRY_COLUMNS) for e in files],
    )
    return db.total_changes - before


def _disk_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.parent).free < _FULL_DISK_FREE_BYTES
    except OSError:
        return False


class Manifest:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._write_lock = threading.Lock()
        self._connections = ThreadConnections(
            lambda: connect(self.path, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;")
        )

    def open(self) -> bool:
        """Create or check the manifest; return True if this call created its tables.

        A missing and an empty file are both new. Programs started on a new cache at the same
        moment take turns under a file lock, so exactly one of them creates the tables (SQLite's
        own locks would fail one of them with "database is locked" while it switches to WAL).
        """
        created = False
        if self.path.is_dir():
            raise ManifestDamagedError(f"the manifest {self.path} is a folder, not a file")
        version = self._schema_version()
        if version == 0:
            with FileLock(self.path.with_name(f"{self.path.name}.lock")):
                version = self._schema_version()
                if version == 0:
                    with self._connect() as db:
                        db.execute("PRAGMA journal_mode=WAL")
                        db.executescript(
                            f"BEGIN; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
                        )
                    version, created = SCHEMA_VERSION, True
        if version > SCHEMA_VERSION:
            raise ManifestError(
                f"the manifest {self.path} was written by a newer Image Refresh"
                f" (schema {version}); please update the program"
            )
        if not created:
            with self._connect() as db:  # a file cut short reads its header, not its pages
                (verdict,) = db.execute("PRAGMA quick_check(1)").fetchone()
            if verdict != "ok":
                raise ManifestDamagedError(f"the manifest {self.path} is damaged ({verdict})")
        return created

    def set_aside(self) -> Path:
        """Move a damaged manifest (and its journal) out of the way, kept for the user; return
        where it went."""
        self.close()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        kept = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = self.path.with_name(self.path.name + suffix)
            if source.exists():
                source.rename(kept.with_name(kept.name + suffix))
        return kept

    def _schema_version(self) -> int:
        with self._connect() as db:
            return int(db.execute("PRAGMA user_version").fetchone()[0])

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, opened once and kept (opening one costs more than a query)."""
        try:
            db = self._connections.get()
        except sqlite3.Error as error:
            raise _describe_failure(self.path, error) from error
        try:
            yield db
        except sqlite3.DatabaseError as error:
            self._connections.close_own()
            raise _describe_failure(self.path, error) from error

    def close(self) -> None:
        """Close every thread's connection: call it once the threads are done with it."""
        self._connections.close_all()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # Threads of this process queue here rather than in SQLite's sleeping busy handler;
        # other processes still wait on SQLite's own lock.
        with self._write_lock, self._connect() as db, immediate_transaction(db):
            yield db

    def entries(self, category: str | None = None) -> list[ImageEntry]:
        query, args = _SELECT, ()
        if category is not None:
            query, args = f"{_SELECT} WHERE category = ?", (category,)  # type: ignore[assignment]
        with self._connect() as db:
            return [
                ImageEntry(*row)
                for row in db.execute(f"{query} ORDER BY category, rel_path, url", args)
            ]

    def by_url(self, url: str) -> ImageEntry | None:
        return self._one("url = ?", url)

    def by_path(self, rel_path: str) -> ImageEntry | None:
        return self._one("rel_path = ?", rel_path)

    def by_key(self, key: str) -> ImageEntry | None:
        if key.startswith("path:"):
            return self.by_path(key.removeprefix("path:"))
        return self.by_url(key)

    def _one(self, where: str, value: str) -> ImageEntry | None:
        with self._connect() as db:
            row = db.execute(f"{_SELECT} WHERE {where}", (value,)).fetchone()
        return ImageEntry(*row) if row else None

    def add_urls(self, urls: dict[str, list[str]], category: str) -> list[ImageEntry]:
        """Record URLs (keeping the category of those already known); return their entries.

        `urls` maps each URL to the paths its file may have: a file found on disk with no known
        URL at one of them (a rebuilt manifest) is taken over by the URL, not downloaded again.
        """
        with self._transaction() as db:
            for url, paths in urls.items():
                if db.execute("SELECT 1 FROM images WHERE url = ?", (url,)).fetchone():
                    continue
                found = db.execute(
                    "SELECT id FROM images WHERE url IS NULL AND rel_path IN"
                    f" ({', '.join('?' for _ in paths)})",
                    paths,
                ).fetchone()
                if found:
                    db.execute("UPDATE images SET url = ? WHERE id = ?", (url, found[0]))
                else:
                    db.execute("INSERT INTO images (url, category) VALUES (?, ?)", (url, category))
            rows = {
                row[0]: ImageEntry(*row)
                for url in urls
                for row in db.execute(f"{_SELECT} WHERE url = ?", (url,))
            }
        return [rows[url] for url in urls]

    def add_scanned_files(self, files: Iterable[ImageEntry]) -> int:
        with self._transaction() as db:
            return _insert_new_files(db, files)

    def sync_folder(self, found: list[ImageEntry]) -> tuple[int, int]:
        """Make an adopted folder's rows the files found on it: new files are added, rows of
        vanished files without a source URL go (one with a URL stays: a refresh downloads it
        again). Returns (added, removed)."""
        paths = {entry.rel_path for entry in found}
        with self._transaction() as db:
            added = _insert_new_files(db, found)
            gone = [
                (rel_path,)
                for (rel_path,) in db.execute("SELECT rel_path FROM images WHERE url IS NULL")
                if rel_path not in paths
            ]
            db.executemany("DELETE FROM images WHERE rel_path = ? AND url IS NULL", gone)
        return added, len(gone)

    def set_source(self, rel_path: str, url: str, category: str) -> str | None:
        """Give the file at `rel_path` (a row is made if there is none) its source URL; None,
        or why not (the URL is another file's source already)."""
        with self._transaction() as db:
            other = db.execute(
                "SELECT rel_path FROM images WHERE url = ? AND rel_path IS NOT ?", (url, rel_path)
            ).fetchone()
            if other is not None:
                return f"this URL is already the source of {other[0]}"
            db.execute(
                "INSERT INTO images (url, category, rel_path) VALUES (?, ?, ?)"
                " ON CONFLICT(rel_path) DO UPDATE SET url = excluded.url",
                (url, category, rel_path),
            )
        return None

    def record_refresh(self, entry: ImageEntry, history: HistoryEntry) -> None:
        """Store the entry's new state and append the refresh to its history, atomically."""
        assignments = ", ".join(f"{c} = ?" for c in _ENTRY_COLUMNS if c != "url")
        values = [getattr(entry, c) for c in _ENTRY_COLUMNS if c != "url"]
        key_column, key = ("url", entry.url) if entry.url else ("rel_path", entry.rel_path)
        with self._transaction() as db:
            row = db.execute(f"SELECT id FROM images WHERE {key_column} = ?", (key,)).fetchone()
            if row is None:
                return  # removed from the cache while it was being refreshed
            # A file found on disk at the new path (a rebuilt manifest) is this image's now.
            db.execute(
                "DELETE FROM images WHERE rel_path = ? AND url IS NULL AND id != ?",
                (entry.rel_path, row[0]),
            )
            db.execute(f"UPDATE images SET {assignments} WHERE id = ?", (*values, row[0]))
            db.execute(
                "INSERT INTO history (image_id, at, mode, force_refresh, before_mtime, after_mtime,"
                " before_sha256, after_sha256, outcome, error) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    row[0],
                    history.at,
                    history.mode,
                    int(history.force_refresh),
                    history.before_mtime,
                    history.after_mtime,
                    history.before_sha256,
                    history.after_sha256,
                    history.outcome,
                    history.error,
                ),
            )

    def history(self, entry: ImageEntry, limit: int = 100) -> list[HistoryEntry]:
        key_column, key = ("url", entry.url) if entry.url else ("rel_path", entry.rel_path)
        with self._connect() as db:
            rows = db.execute(
                "SELECT h.at, h.mode, h.force_refresh, h.before_mtime, h.after_mtime,"
                " h.before_sha256, h.after_sha256, h.outcome, h.error FROM history h"
                f" JOIN images i ON i.id = h.image_id WHERE i.{key_column} = ?"
                " ORDER BY h.at DESC, h.id DESC LIMIT ?",
                (key, limit),
            ).fetchall()
        return [HistoryEntry(r[0], r[1], bool(r[2]), *r[3:]) for r in rows]

    def remove(self, entry: ImageEntry) -> None:
        key_column, key = ("url", entry.url) if entry.url else ("rel_path", entry.rel_path)
        with self._transaction() as db:
            db.execute(f"DELETE FROM images WHERE {key_column} = ?", (key,))
