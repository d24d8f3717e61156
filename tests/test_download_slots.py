"""Download slots: `jobs` is the number of downloads at once, as with curl's --parallel-max, and
a refresh gives its slot back as soon as its body has arrived, before it is checked and stored."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from core.cache import ImageCache
from core.download_slots import DownloadSlots
from core.models import Action, RefreshResult
from core.settings import RefreshSettings, finishing_thread_count
from tests.server import LoopbackServer, Responder, image, jpeg_bytes, stall
from tests.test_cli import backdate

BODY = jpeg_bytes((20, 120, 220))


class ConcurrencyMeter:
    """A responder that answers after `delay` and records how many requests overlapped."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.delay)
        with self.lock:
            self.running -= 1
        image(BODY)(handler)


def add_images(server: LoopbackServer, cache: ImageCache, count: int, meter: Responder) -> None:
    cache.add_urls([server.route(f"/img/{n}.jpg", meter) for n in range(count)], "events")


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize(
    ("jobs", "changed_to", "count"),
    [(3, None, 12), (4, 1, 6)],  # jobs as set; a limit changed between batches
)
def test_jobs_is_the_number_of_downloads_at_once(
    server: LoopbackServer,
    make_cache: Callable[..., ImageCache],
    jobs: int,
    changed_to: int | None,
    count: int,
) -> None:
    meter = ConcurrencyMeter(delay=0.15)
    cache = make_cache(jobs=jobs)
    add_images(server, cache, count, meter)

    if changed_to is not None:
        cache.set_download_limit(changed_to)
    results = list(cache.refresh_many(cache.entries(), force_refresh=True))

    assert [r.action for r in results] == [Action.REFRESHED] * count
    assert meter.most == (changed_to or jobs)


def test_a_refresh_gives_back_its_slot_before_its_download_is_stored(
    server: LoopbackServer, make_cache: Callable[..., ImageCache]
) -> None:
    """With the manifest locked by someone else, no refresh can finish storing, yet every one
    downloads: none holds its slot while it waits to be recorded."""
    cache = make_cache(jobs=2)
    in_flight = 2 + finishing_thread_count()
    add_images(server, cache, in_flight, ConcurrencyMeter(delay=0.0))
    blocker = sqlite3.connect(cache.manifest.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another program writing the manifest
    results: list[RefreshResult] = []
    batch = threading.Thread(
        target=lambda: results.extend(cache.refresh_many(cache.entries(), force_refresh=True))
    )
    batch.start()
    try:
        everything_requested = wait_until(lambda: len(server.seen) == in_flight)
        finished_while_locked = len(results)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        batch.join(30)

    assert everything_requested, f"{len(server.seen)} of {in_flight} downloads started"
    assert finished_while_locked == 0
    assert [r.action for r in results] == [Action.REFRESHED] * in_flight


def test_a_cancel_reaches_a_refresh_waiting_for_a_slot(
    server: LoopbackServer, make_cache: Callable[..., ImageCache]
) -> None:
    cache = make_cache(jobs=1)
    started = threading.Event()
    stalled_url = server.route("/stalled.jpg", image(BODY))
    waiting_url = server.route("/waiting.jpg", image(BODY))
    stalled, waiting = cache.add_urls([stalled_url, waiting_url], "events")
    paths = [cache.refresh(e, force_refresh=False).path for e in (stalled, waiting)]
    mtimes = [backdate(p) for p in paths if p is not None]
    server.route("/stalled.jpg", stall(BODY, after=100, seconds=30, started=started))
    cancel = threading.Event()
    results: dict[str, RefreshResult] = {}

    def refresh(key: str) -> None:
        results[key] = cache.refresh_key(key, force_refresh=True, cancel=cancel)

    threads = [threading.Thread(target=refresh, args=(url,)) for url in (stalled_url, waiting_url)]
    threads[0].start()
    assert started.wait(10)  # the stalled download holds the only slot
    threads[1].start()
    time.sleep(0.3)  # long enough for a request that was not held back to reach the server
    assert len(server.requests_for("/waiting.jpg")) == 1  # only the first, uncancelled fill
    cancelled_at = time.monotonic()
    cancel.set()
    for thread in threads:
        thread.join(10)

    assert time.monotonic() - cancelled_at < 2
    assert {key: r.action for key, r in results.items()} == {
        stalled_url: Action.CANCELLED,
        waiting_url: Action.CANCELLED,
    }
    assert len(server.requests_for("/waiting.jpg")) == 1
    for path, mtime in zip(paths, mtimes, strict=True):
        assert path is not None and path.read_bytes() == BODY and path.stat().st_mtime == mtime


@pytest.mark.parametrize("attempt", range(5))  # a timing race: several tries
def test_a_freed_slot_reaches_a_waiter_even_when_a_cancelled_one_was_woken(attempt: int) -> None:
    slots = DownloadSlots(1)
    assert slots.take(None)  # a download holds the only slot
    cancel = threading.Event()
    taken: dict[str, bool] = {}
    first = threading.Thread(target=lambda: taken.update(a=slots.take(cancel)))
    second = threading.Thread(target=lambda: taken.update(b=slots.take(None)))
    first.start()
    time.sleep(0.005)  # first in the queue: a single wake-up would go to it
    second.start()
    time.sleep(0.005)
    cancel.set()
    slots.give_back()
    first.join(2)
    second.join(2)

    assert taken == {"a": False, "b": True}


def test_worker_processes_share_the_download_limit_as_it_changes(
    server: LoopbackServer, cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="core")
    with ImageCache(cache_dir, RefreshSettings(jobs=3)) as cache:
        cache.use_worker_processes(2)
        for limit in (3, 1, 4):  # shares of 2 + 1; one worker; a second again, 2 + 2
            meter = ConcurrencyMeter(delay=0.15)
            add_images(server, cache, 12, meter)
            cache.set_download_limit(limit)
            caplog.clear()

            results = list(cache.refresh_many(cache.entries(), force_refresh=True))

            assert [r.action for r in results] == [Action.REFRESHED] * 12
            assert meter.most == limit
            refreshed_by = {
                r.process for r in caplog.records if r.getMessage().startswith("refreshed ")
            }
            assert len(refreshed_by) == min(limit, 2) and os.getpid() not in refreshed_by


def test_raising_the_limit_starts_no_process_until_the_next_refresh(
    server: LoopbackServer, cache_dir: Path
) -> None:
    # The window raises the limit on its GUI thread, which must never wait for a process to start.
    with ImageCache(cache_dir, RefreshSettings(jobs=1)) as cache:
        cache.use_worker_processes(2)
        assert cache._workers is not None and len(cache._workers.worker_pids()) == 1
        add_images(server, cache, 4, ConcurrencyMeter(delay=0.0))

        cache.set_download_limit(2)
        assert len(cache._workers.worker_pids()) == 1
        results = list(cache.refresh_many(cache.entries(), force_refresh=True))

        assert [r.action for r in results] == [Action.REFRESHED] * 4
        assert len(cache._workers.worker_pids()) == 2


def test_raising_the_limit_during_a_batch_never_passes_it(
    server: LoopbackServer, cache_dir: Path
) -> None:
    # A new worker takes a place of its own: no running worker's share shrinks meanwhile.
    with ImageCache(cache_dir, RefreshSettings(jobs=1)) as cache:
        cache.use_worker_processes(2)
        meter = ConcurrencyMeter(delay=0.3)
        add_images(server, cache, 12, meter)
        results: list[RefreshResult] = []
        batch = threading.Thread(
            target=lambda: results.extend(cache.refresh_many(cache.entries(), force_refresh=True))
        )
        batch.start()
        assert wait_until(lambda: meter.running == 1)
        cache.set_download_limit(2)
        batch.join(30)

    assert [r.action for r in results] == [Action.REFRESHED] * 12
    assert meter.most == 2


def test_a_refresh_waiting_for_its_workers_slot_ends_at_once_when_the_worker_dies(
    server: LoopbackServer, cache_dir: Path
) -> None:
    with ImageCache(cache_dir, RefreshSettings(jobs=1, timeout=30)) as cache:
        cache.use_worker_processes(2)  # one slot: one worker
        started = threading.Event()
        slow = server.route("/slow.jpg", stall(BODY, after=100, seconds=8, started=started))
        waiting = server.route("/waiting.jpg", image(BODY))
        cache.add_urls([slow, waiting], "events")
        results: dict[str, RefreshResult] = {}
        threads = {
            url: threading.Thread(
                target=lambda url=url: results.update(
                    {url: cache.refresh_key(url, force_refresh=True)}
                )
            )
            for url in (slow, waiting)
        }
        threads[slow].start()
        assert started.wait(10)  # the stalled download holds the only slot
        threads[waiting].start()
        assert cache._workers is not None
        (worker,) = cache._workers._workers
        assert wait_until(lambda: len(worker.pending) == 2)  # the second waits for the slot
        time.sleep(0.1)  # for the request the slot holds back, were it not held back
        killed_at = time.monotonic()
        os.kill(worker.process.pid, signal.SIGKILL)
        for thread in threads.values():
            thread.join(10)
        answered_after = time.monotonic() - killed_at

    for url in (slow, waiting):
        assert results[url].action is Action.FAILED
        assert "worker process stopped" in (results[url].error or "")
    assert answered_after < 2  # not when the stalled download would have ended, 8 s later
    assert len(server.requests_for("/waiting.jpg")) == 0
