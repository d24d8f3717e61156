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
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Remembered:
    verdict: Verdict
    check_version: int
    max_pixels: int
    thorough: bool

    def holds_for(self, size: int, mtime_ns: int, max_pixels: int, thorough: bool) -> bool:
        """Whether this verdict is the one a check of the file as it is now would give."""
        return (
            self.verdict.size == size
            and self.verdict.mtime_ns == mtime_ns
            and self.check_version == CHECK_VERSION
            and self.max_pixels == max_pixels
            and (self.thorough or not thorough)
        )


class VerdictMemory:
    """The verdicts of one cache's files by cache-relative path; safe for threads and for
    several processes (WAL, a busy timeout)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def recall(self) -> dict[str, Remembered]:
        """Every remembered verdict (one query: a cache's worth is read in milliseconds)."""

        def read(db: sqlite3.Connection) -> dict[str, Remembered]:
            rows = db.execute(f"SELECT {_COLUMNS} FROM verdicts").fetchall()
            return {row[0]: _remembered(row) for row in rows}

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


def _remembered(row: tuple[object, ...]) -> Remembered:
    (_, size, mtime_ns, version, max_pixels, thorough, health, detail, digest, name, w, h, _) = row
    verdict = Verdict(
        Health(str(health)),
        str(detail),
        int(str(size)),
        int(str(mtime_ns)),
        None if digest is None else str(digest),
        None if name is None else str(name),
        None if w is None else int(str(w)),
        None if h is None else int(str(h)),
    )
    return Remembered(verdict, int(str(version)), int(str(max_pixels)), bool(thorough))
