"""Refreshes in worker processes: same results, logs and cancel as in the caller, and a worker
that dies loses no image. (tests/test_failures.py runs every failure case in a worker too.)"""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path

import pytest

from core import cli
from core.cache import ImageCache
from core.executor import Backend
from core.models import Action, FailureReason, RefreshMode, RefreshRequest
from core.settings import RefreshSettings
from tests.conftest import BACKENDS
from tests.server import LoopbackServer, image, jpeg_bytes, sequence, stall
from tests.test_cli import backdate, force_refresh_batch, lower_headers

OLD, NEW = jpeg_bytes((250, 10, 10)), jpeg_bytes((10, 10, 250))


def cached_images(server: LoopbackServer, cache: ImageCache, count: int) -> list[Path]:
    urls = [server.route(f"/img/{n}.jpg", sequence(image(OLD), image(NEW))) for n in range(count)]
    results = list(cache.refresh_many(cache.add_urls(urls, "events"), RefreshMode.MISSING))
    assert [r.action for r in results] == [Action.DOWNLOADED] * count
    return [r.path for r in results if r.path is not None]


PROCESS_BACKENDS = [b for b in BACKENDS if b is not Backend.THREADS]


@pytest.mark.parametrize("backend", PROCESS_BACKENDS, ids=lambda backend: backend.value)
def test_a_batch_in_worker_processes_refreshes_like_the_caller_and_logs_to_it(
    backend: Backend, server: LoopbackServer, cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="core")
    with ImageCache(cache_dir, RefreshSettings(jobs=4), backend=backend) as cache:
        paths = cached_images(server, cache, 12)
        before = {path: backdate(path) for path in paths}
        caplog.clear()

        results = list(cache.refresh_many(cache.entries(), RefreshMode.FORCE))

        workers = cache.worker_pids()
    assert len(workers) == 2 and os.getpid() not in workers
    assert len(results) == 12
    for result in results:
        assert result.action is Action.REFRESHED, result.error
        assert result.path is not None and result.path.read_bytes() == NEW
        assert result.before_mtime == before[result.path]
        assert result.after_mtime == result.path.stat().st_mtime > before[result.path]
    for n in range(12):
        headers = lower_headers(server.requests_for(f"/img/{n}.jpg")[-1].headers)
        assert headers["cache-control"] == "no-cache" and "if-none-match" not in headers
    # The workers' records reach the caller's log, marked with the worker's process id.
    refreshed = [r for r in caplog.records if r.getMessage().startswith("refreshed ")]
    assert len(refreshed) == 12
    assert {r.process for r in refreshed} <= set(workers)


def test_a_refresh_in_a_worker_has_logged_everything_by_the_time_it_answers(
    server: LoopbackServer, cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The worker's records travel with its next message, never later than the result: at
    # DEBUG, every step of the refresh, in order.
    caplog.set_level(logging.DEBUG, logger="core")
    with ImageCache(cache_dir, RefreshSettings(jobs=1), backend=Backend.PROCESSES) as cache:
        cached_images(server, cache, 1)
        (entry,) = cache.entries()
        for round_ in range(3):
            caplog.clear()
            result = cache.refresh(entry, RefreshMode.FORCE)
            (worker,) = cache.worker_pids()
            logged = [r.getMessage() for r in caplog.records if r.process == worker]
            assert result.action is Action.REFRESHED, result.error
            steps = ["refresh ", "download url=", "deleting previous file ", "refreshed "]
            assert [next(m for m in steps if line.startswith(m)) for line in logged] == steps, (
                round_,
                logged,
            )


@pytest.mark.warnings_expected  # a killed worker is logged as an ERROR
@pytest.mark.parametrize("backend", PROCESS_BACKENDS, ids=lambda backend: backend.value)
def test_a_killed_worker_fails_its_refresh_and_loses_nothing(
    backend: Backend, server: LoopbackServer, cache_dir: Path
) -> None:
    # One download slot: the killed worker held it, and the next refresh needs it back.
    settings = RefreshSettings(timeout=20.0, jobs=1)
    with ImageCache(cache_dir, settings, backend=backend) as cache:
        (path,) = cached_images(server, cache, 1)
        old_mtime_ns = path.stat().st_mtime_ns
        (entry,) = cache.entries()
        body_started = threading.Event()
        server.route("/img/0.jpg", stall(NEW * 40, after=2000, seconds=15, started=body_started))
        refreshing = cache.submit(RefreshRequest(entry, RefreshMode.FORCE))
        assert body_started.wait(10)
        (worker,) = cache.worker_pids()
        os.kill(worker, signal.SIGKILL)

        result = refreshing.result(timeout=10)
        assert result.action is Action.FAILED and result.reason is FailureReason.UNEXPECTED
        assert result.error is not None and "worker process stopped" in result.error
        assert path.read_bytes() == OLD and path.stat().st_mtime_ns == old_mtime_ns

        # The next refresh gets the slot and a new worker, and works.
        server.route("/img/0.jpg", image(NEW))
        again = cache.refresh(entry, RefreshMode.FORCE)
        assert again.action is Action.REFRESHED, again.error
        assert path.read_bytes() == NEW
        assert cache.worker_pids() != [worker]


def test_the_command_line_runs_a_big_batch_in_worker_processes(
    server: LoopbackServer,
    cache_dir: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="core")
    force_refresh_batch(server, cache_dir, capsys, cli.WORKER_PROCESS_MIN_TARGETS)
    refreshed_by = {r.process for r in caplog.records if r.getMessage().startswith("refreshed ")}
    assert refreshed_by and os.getpid() not in refreshed_by
