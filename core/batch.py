"""Refreshing many images at once on a bounded pool of threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from core.models import RefreshResult

RefreshOne = Callable[[str], RefreshResult]


def refresh_concurrently(
    refresh_one: RefreshOne,
    keys: Iterable[str],
    *,
    threads: int,
    cancel: threading.Event,
) -> Iterator[RefreshResult]:
    """Run `refresh_one` for every key on `threads` threads, yielding results as they finish.

    At most 2 × threads keys are in flight, so memory does not grow with the number of targets.
    After `cancel` is set, keys not yet started are not submitted; running ones stop between
    chunks and report themselves cancelled.
    """
    pending: set[Future[RefreshResult]] = set()
    key_iter = iter(keys)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="refresh") as pool:
        try:
            while True:
                while len(pending) < 2 * threads and not cancel.is_set():
                    key = next(key_iter, None)
                    if key is None:
                        break
                    pending.add(pool.submit(refresh_one, key))
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            if pending:  # the consumer stopped early: stop the running downloads too
                cancel.set()
