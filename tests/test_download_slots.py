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
from core.cancellation import Cancellation
from core.download_slots import DownloadSlots
from core.executor import Backend
from core.models import Action, RefreshMode, RefreshRequest, RefreshResult
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


@pytest.mark.parametrize(("jobs", "count"), [(3, 12), (1, 6)])
def test_jobs_is_the_number_of_downloads_at_once(
    server: LoopbackServer, make_cache: Callable[..., ImageCache], jobs: int, count: int
) -> None:
    meter = ConcurrencyMeter(delay=0.15)
    cache = make_cache(jobs=jobs)
    add_images(server, cache, count, meter)

    results = list(cache.refresh_many(cache.entries(), RefreshMode.FORCE))

    assert [r.action for r in results] == [Action.REFRESHED] * count
    assert meter.most == jobs


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
        target=lambda: results.extend(cache.refresh_many(cache.entries(), RefreshMode.FORCE))
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
    paths = [cache.refresh(e, RefreshMode.MISSING).path for e in (stalled, waiting)]
    mtimes = [backdate(p) for p in paths if p is not None]
    server.route("/stalled.jpg", stall(BODY, after=100, seconds=30, started=started))
    cancel = Cancellation()

    first = cache.submit(RefreshRequest(stalled, RefreshMode.FORCE), cancel=cancel)
    assert started.wait(10)  # the stalled download holds the only slot
    second = cache.submit(RefreshRequest(waiting, RefreshMode.FORCE), cancel=cancel)
    time.sleep(0.3)  # long enough for a request that was not held back to reach the server
    assert len(server.requests_for("/waiting.jpg")) == 1  # only the first, uncancelled fill
    cancelled_at = time.monotonic()
    cancel.set()
    results = [first.result(timeout=10), second.result(timeout=10)]

    assert time.monotonic() - cancelled_at < 1
    assert [r.action for r in results] == [Action.CANCELLED, Action.CANCELLED]
    assert len(server.requests_for("/waiting.jpg")) == 1
    for path, mtime in zip(paths, mtimes, strict=True):
        assert path is not None and path.read_bytes() == BODY and path.stat().st_mtime == mtime


@pytest.mark.parametrize("attempt", range(5))  # a timing race: several tries
def test_a_freed_slot_reaches_a_waiter_even_when_a_cancelled_one_was_woken(attempt: int) -> None:
    slots = DownloadSlots(1)
    assert slots.take(None)  # a download holds the only slot
    cancel = Cancellation()
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


def test_worker_processes_share_the_download_limit(
    server: LoopbackServer, cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="core")
    for limit in (3, 1):  # shares of 2 + 1 in two workers; one worker with the only slot
        meter = ConcurrencyMeter(delay=0.15)
        settings = RefreshSettings(jobs=limit)
        with ImageCache(cache_dir, settings, backend=Backend.PROCESSES) as cache:
            add_images(server, cache, 12, meter)
            caplog.clear()

            results = list(cache.refresh_many(cache.entries(), RefreshMode.FORCE))

        assert [r.action for r in results] == [Action.REFRESHED] * 12
        assert meter.most == limit
        refreshed_by = {
            r.process for r in caplog.records if r.getMessage().startswith("refreshed ")
        }
        assert len(refreshed_by) == min(limit, 2) and os.getpid() not in refreshed_by


@pytest.mark.warnings_expected  # a killed worker is logged as an ERROR
def test_a_refresh_waiting_for_its_workers_slot_ends_at_once_when_the_worker_dies(
    server: LoopbackServer, cache_dir: Path
) -> None:
    settings = RefreshSettings(jobs=1, timeout=30)  # one slot: one worker
    with ImageCache(cache_dir, settings, backend=Backend.PROCESSES) as cache:
        started = threading.Event()
        slow = server.route("/slow.jpg", stall(BODY, after=100, seconds=8, started=started))
        waiting = server.route("/waiting.jpg", image(BODY))
        entries = cache.add_urls([slow, waiting], "events")
        first = cache.submit(RefreshRequest(entries[0], RefreshMode.FORCE))
        assert started.wait(10)  # the stalled download holds the only slot
        second = cache.submit(RefreshRequest(entries[1], RefreshMode.FORCE))
        time.sleep(0.3)  # for the request the slot holds back, were it not held back
        (worker,) = cache.worker_pids()
        killed_at = time.monotonic()
        os.kill(worker, signal.SIGKILL)
        results = [first.result(timeout=10), second.result(timeout=10)]
        answered_after = time.monotonic() - killed_at

    for result in results:
        assert result.action is Action.FAILED
        assert "worker process stopped" in (result.error or "")
    assert answered_after < 2  # not when the stalled download would have ended, 8 s later
    assert len(server.requests_for("/waiting.jpg")) == 0
