"""The kept versions' index is made once, whoever comes first: threads and worker processes that
keep their first versions at the same moment never fail on each other."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.versions import VersionStore

THREADS = 8
ROUNDS = 25


def test_threads_opening_a_new_index_at_once_all_get_it(tmp_path: Path) -> None:
    # Each round a new index, opened by 8 threads released together: while one switched it to
    # WAL, SQLite failed the others at once with "database is locked" (a kept version lost).
    for round_ in range(ROUNDS):
        store = VersionStore(tmp_path / f"versions-{round_}", max_bytes=1 << 30)
        start = threading.Barrier(THREADS)

        def first_use(store: VersionStore = store, start: threading.Barrier = start) -> int:
            start.wait()
            return store.total_bytes()

        with ThreadPoolExecutor(THREADS) as pool:
            totals = list(pool.map(lambda _: first_use(), range(THREADS)))
        store.close()
        assert totals == [0] * THREADS, round_
