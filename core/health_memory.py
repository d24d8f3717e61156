"""The verdicts of past scans, so a scan of an unchanged cache decodes nothing.

A small SQLite file beside the manifest (`.image-refresh/health.sqlite3`), not a table in it: it
holds nothing but what a scan can find again, so it has no schema to migrate with the manifest's
and, when it is damaged, is simply made anew. A verdict is trusted only for the file it was made
for: the same path, size and mtime (to the nanosecond), checked by the same rules
(CHECK_VERSION), under the same pixel limit and at least as thoroughly.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from core.health import CHECK_VERSION, Health, Verdict

log = logging.getLogger(__name__)
T = TypeVar("T")

FILE_NAME = "health.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    rel_path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    check_version INTEGER NOT NULL,
    max_pixels INTEGER NOT NULL,
    thorough INTEGER NOT NULL,
    health TEXT NOT NULL,
    detail TEXT NOT NULL,
    sha256 TEXT,
    format TEXT,
    width INTEGER,
    height INTEGER,
    checked_at REAL NOT NULL
)
"""
_COLUMNS = (
    "rel_path, size, mtime_ns, check_version, max_pixels, thorough, health, detail, sha256,"
    " format, width, height, checked_at"
)


# A row of the table as read: (size, mtime_ns, check_version, max_pixels, thorough, health,
# detail, sha256, format, width, height). Kept as read, so recalling a cache's worth of
# verdicts costs one query; a Verdict is made only for the rows that are used.
Row = tuple[int, int, int, int, int, str, str, str | None, str | None, int | None, int | None]


def holds_for(row: Row, size: int, mtime_ns: int, max_pixels: int, thorough: bool) -> bool:
    """Whether a remembered verdict is the one a check of the file as it is now would give."""
    return (
        row[0] == size
        and row[1] == mtime_ns
        and row[2] == CHECK_VERSION
        and row[3] == max_pixels
        and (bool(row[4]) or not thorough)
    )


def verdict_of(row: Row) -> Verdict:
    size, mtime_ns, _, _, _, health, detail, digest, name, width, height = row
    return Verdict(Health(health), detail, size, mtime_ns, digest, name, width, height)


class VerdictMemory:
    """The verdicts of one cache's files by cache-relative path; safe for threads and for
    several processes (WAL, a busy timeout)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def recall(self) -> dict[str, Row]:
        """Every remembered verdict by path (one query: a cache's worth in milliseconds)."""

        def read(db: sqlite3.Connection) -> dict[str, Row]:
            rows = db.execute(f"SELECT {_COLUMNS} FROM verdicts")
            return {row[0]: row[1:-1] for row in rows}

        return self._use(read, {})

    def remember(
        self, verdicts: Iterable[tuple[str, Verdict]], max_pixels: int, thorough: bool, at: float
    ) -> None:
        """Store the verdicts of files that were read (a missing file has none to keep)."""
        rows = [
            (
                rel_path,
                v.size,
                v.mtime_ns,
                CHECK_VERSION,
                max_pixels,
                int(thorough),
                v.health.value,
                v.detail,
                v.sha256,
                v.format,
                v.width,
                v.height,
                at,
            )
            for rel_path, v in verdicts
            if v.size is not None and v.mtime_ns is not None
        ]

        def write(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    f"INSERT OR REPLACE INTO verdicts ({_COLUMNS})"
                    f" VALUES ({', '.join('?' for _ in range(13))})",
                    rows,
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        if rows:
            self._use(write, None)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _use(self, work: Callable[[sqlite3.Connection], T], otherwise: T) -> T:
        """`work` on the open memory. A damaged file is made anew (nothing in it is lost for
        good: the next scan reads the files again); any other trouble (a read-only cache, a
        lock held too long) costs only the memory: the scan goes on without it."""
        with self._lock:
            for attempt in range(2):
                try:
                    return work(self._open())
                except sqlite3.DatabaseError as error:
                    name = getattr(error, "sqlite_errorname", "") or ""
                    damaged = name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
                    if attempt or not damaged:
                        log.info("the scan memory %s is not used: %s", self.path, error)
                        self._forget_connection()
                        return otherwise
                    log.info(
                        "the scan memory %s is damaged (%s); starting it anew", self.path, error
                    )
                    self._forget_connection()
                    for suffix in ("", "-wal", "-shm"):
                        with contextlib.suppress(FileNotFoundError):
                            self.path.with_name(self.path.name + suffix).unlink()
        return otherwise

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(_SCHEMA)
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def _forget_connection(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
