"""One SQLite connection per thread to one database file, kept open and all closed at once.

Opening a connection costs more than a query, so each thread keeps its own. `close_all` closes
every thread's: one left open keeps the database files open after their cache is closed, and
then a worker is started fresh instead of forked (see core.worker_processes). A thread whose
connection was closed that way gets a new one at its next use.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path


class ThreadConnections:
    """This thread's connection from `open_connection` (which returns it ready for use)."""

    def __init__(self, open_connection: Callable[[], sqlite3.Connection]) -> None:
        self._open_connection = open_connection
        self._local = threading.local()
        self._all: set[sqlite3.Connection] = set()
        self._lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None or db not in self._all:
            db = self._open_connection()
            self._local.db = db
            with self._lock:
                self._all.add(db)
        return db

    def close_own(self) -> None:
        """Close the calling thread's connection, after an error (the next use opens one)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        self._local.db = None
        if db is not None:
            with self._lock:
                self._all.discard(db)
            db.close()

    def close_all(self) -> None:
        """Close every thread's connection: call it once the threads are done with them."""
        with self._lock:
            connections, self._all = self._all, set()
        for db in connections:
            db.close()


def connect(path: Path, setup: str) -> sqlite3.Connection:
    """A connection in autocommit mode, usable from any thread (`ThreadConnections` keeps each to
    one), with the `setup` script run; closed again if the script fails."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        db.executescript(setup)
    except BaseException:
        db.close()
        raise
    return db
