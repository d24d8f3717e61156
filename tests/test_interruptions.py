"""Nothing hangs: Ctrl+C and SIGTERM end a run within a second whatever it waits on, a download has
a total time limit, and a server's long Retry-After is not waited out."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core import cli
from core.cache import ImageCache
from core.executor import Backend, fork_is_safe
from core.models import Action, FailureReason, RefreshMode
from core.settings import RefreshSettings
from tests.conftest import BACKENDS
from tests.server import (
    LoopbackServer,
    Responder,
    image,
    jpeg_bytes,
    sequence,
    silent,
    stall,
    too_many_requests,
    trickle,
)

OLD, NEW = jpeg_bytes((200, 200, 10)), jpeg_bytes((10, 200, 200), size=(200, 150))
COMMAND = Path(sys.executable).with_name("image-refresh")
WAITS: dict[str, Callable[[], Responder]] = {
    "for the headers": lambda: silent(30),
    "in a retry pause": lambda: too_many_requests("30"),
    "for the body": lambda: stall(NEW, after=100, seconds=30),
}


def cached(server: LoopbackServer, cache_dir: Path, names: list[str]) -> dict[str, Path]:
    with ImageCache(cache_dir) as cache:
        urls = [server.route(f"/{name}.jpg", image(OLD)) for name in names]
        results = list(cache.refresh_many(cache.add_urls(urls, "events"), RefreshMode.MISSING))
    assert all(r.action is Action.DOWNLOADED for r in results)
    return {Path(r.url or "").stem: r.path for r in results if r.path is not None}


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.02)


@contextlib.contextmanager
def refreshing(
    cache_dir: Path, *options: str, own_group: bool = False
) -> Iterator[subprocess.Popen[str]]:
    """`refresh --force --all` running; killed, its pipes closed, if a test leaves it running.
    `own_group`: in a process group of its own, as a terminal starts a command."""
    run = subprocess.Popen(
        [str(COMMAND), "refresh", "--force", "--all", "--cache-dir", str(cache_dir), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=own_group,
    )
    try:
        yield run
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate(timeout=30)


def stop_and_time(run: subprocess.Popen[str], signum: int) -> tuple[float, str]:
    stopped_at = time.monotonic()
    run.send_signal(signum)
    _, stderr = run.communicate(timeout=30)
    return time.monotonic() - stopped_at, stderr


def assert_old_or_new_and_no_leftovers(cache_dir: Path, paths: dict[str, Path]) -> None:
    for path in paths.values():
        assert path.read_bytes() in (OLD, NEW)
    with ImageCache(cache_dir) as cache:  # the next run removes what the stopped one left
        assert cache.storage.temporaries() == []


@pytest.mark.parametrize("wait", list(WAITS))
def test_ctrl_c_is_answered_within_a_second_whatever_the_download_waits_on(
    wait: str, server: LoopbackServer, cache_dir: Path
) -> None:
    paths = cached(server, cache_dir, ["stuck", "quick"])
    server.route("/stuck.jpg", WAITS[wait]())
    server.route("/quick.jpg", image(NEW))
    server.seen.clear()
    with refreshing(cache_dir, "--timeout", "60") as run:
        wait_for(lambda: any(r.path == "/stuck.jpg" for r in server.seen))
        wait_for(lambda: paths["quick"].read_bytes() == NEW)  # the rest of the batch went on
        time.sleep(0.2)  # into the wait

        took, stderr = stop_and_time(run, signal.SIGINT)

    assert run.returncode == 130, stderr
    assert took < 1.0, f"{took:.2f} s"
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert paths["stuck"].read_bytes() == OLD
    assert_old_or_new_and_no_leftovers(cache_dir, paths)


def test_ctrl_c_reaches_a_refresh_waiting_for_a_download_slot(
    server: LoopbackServer, cache_dir: Path
) -> None:
    paths = cached(server, cache_dir, ["first", "second"])
    for name in paths:  # whichever takes the only slot stalls in it; the other waits for it
        server.route(f"/{name}.jpg", stall(NEW, after=100, seconds=30))
    server.seen.clear()
    with refreshing(cache_dir, "--jobs", "1", "--timeout", "60") as run:
        wait_for(lambda: len(server.seen) >= 1)
        time.sleep(0.2)  # the other refresh is at the slot by now, were it not held back

        took, stderr = stop_and_time(run, signal.SIGINT)

    assert run.returncode == 130 and took < 1.0, (took, stderr)
    assert len(server.seen) == 1  # the waiting refresh never made its request
    assert_old_or_new_and_no_leftovers(cache_dir, paths)
    assert all(path.read_bytes() == OLD for path in paths.values())


def test_sigterm_ends_a_run_like_ctrl_c_with_its_own_status(
    server: LoopbackServer, cache_dir: Path
) -> None:
    paths = cached(server, cache_dir, ["stuck"])
    server.route("/stuck.jpg", silent(30))
    server.seen.clear()
    with refreshing(cache_dir, "--timeout", "60") as run:
        wait_for(lambda: bool(server.seen))

        took, stderr = stop_and_time(run, signal.SIGTERM)

    assert run.returncode == 143 and took < 1.0, (took, stderr)
    assert "Traceback" not in stderr
    assert_old_or_new_and_no_leftovers(cache_dir, paths)


def children_of(pid: int) -> set[int]:
    tasks = Path(f"/proc/{pid}/task")
    return {
        int(child) for task in tasks.iterdir() for child in (task / "children").read_text().split()
    }


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_to_the_whole_group_ends_a_big_batch_and_its_workers_quietly(
    signum: signal.Signals, server: LoopbackServer, cache_dir: Path
) -> None:
    # A big batch runs in worker processes, which a terminal's Ctrl+C or a service manager's
    # SIGTERM reaches too: they end without a word, and the command says what happened.
    names = [f"n{n}" for n in range(cli.WORKER_PROCESS_MIN_TARGETS)]
    paths = cached(server, cache_dir, names)
    server.route("/n0.jpg", silent(30))
    for name in names[1:]:
        server.route(f"/{name}.jpg", image(NEW))
    server.seen.clear()
    with refreshing(cache_dir, "--timeout", "60", own_group=True) as run:
        wait_for(lambda: any(r.path == "/n0.jpg" for r in server.seen))
        wait_for(lambda: paths["n1"].read_bytes() == NEW)
        workers = children_of(run.pid)
        assert workers

        stopped_at = time.monotonic()
        os.killpg(run.pid, signum)
        _, stderr = run.communicate(timeout=30)
        took = time.monotonic() - stopped_at

    assert run.returncode == 128 + signum and took < 1.0, (took, stderr)
    assert "Traceback" not in stderr and "interrupted" in stderr, stderr
    wait_for(lambda: not any(is_running(pid) for pid in workers), timeout=10)
    assert paths["n0"].read_bytes() == OLD
    assert_old_or_new_and_no_leftovers(cache_dir, paths)


@pytest.mark.skipif(not fork_is_safe(), reason="workers are forked on Linux only")
def test_a_stop_that_lands_while_a_worker_is_forked_still_ends_the_run_quietly(
    server: LoopbackServer, cache_dir: Path, tmp_path: Path
) -> None:
    # os.fork runs the logging module's hooks in Python. Ctrl+C is made to land there by a hook
    # of our own, installed at start-up (sitecustomize), which runs just before logging's.
    names = [f"n{n}" for n in range(cli.WORKER_PROCESS_MIN_TARGETS)]
    paths = cached(server, cache_dir, names)
    for name in names:
        server.route(f"/{name}.jpg", image(NEW))
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os, signal\n"
        "os.register_at_fork(after_in_parent=lambda: os.kill(os.getpid(), signal.SIGINT))\n"
    )
    run = subprocess.run(
        [str(COMMAND), "refresh", "--force", "--all", "--cache-dir", str(cache_dir)],
        env={**os.environ, "PYTHONPATH": str(hook)},
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert run.returncode == 130, run.stderr
    assert "interrupted" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr, run.stderr
    assert_old_or_new_and_no_leftovers(cache_dir, paths)


@pytest.mark.warnings_expected  # failed refreshes log a WARNING
@pytest.mark.parametrize(
    "backend",
    [b for b in BACKENDS if b is not Backend.PROCESSES],  # a spawned worker's start would count
    ids=lambda backend: backend.value,
)
def test_max_time_bounds_a_download_that_trickles_forever(
    backend: Backend, server: LoopbackServer, cache_dir: Path
) -> None:
    # cached() downloaded in this process, whose deadline thread now runs: a worker forked from
    # it must keep time all the same.
    paths = cached(server, cache_dir, ["drip"])
    mtime = paths["drip"].stat().st_mtime_ns
    server.route("/drip.jpg", trickle(NEW, pieces=len(NEW) // 8, pause=0.25))  # ~8 bytes at a time
    settings = RefreshSettings(timeout=5.0, max_time=1.5)
    with ImageCache(cache_dir, settings, backend=backend) as cache:
        (entry,) = cache.entries()
        started = time.monotonic()
        result = cache.refresh(entry, RefreshMode.FORCE)
        took = time.monotonic() - started

    assert result.action is Action.FAILED and result.reason is FailureReason.TIMEOUT
    assert result.error == "the download took longer than 1.5 s"
    assert 1.4 < took < 3.0
    assert paths["drip"].read_bytes() == OLD and paths["drip"].stat().st_mtime_ns == mtime


@pytest.mark.warnings_expected  # failed refreshes log a WARNING
def test_a_long_retry_after_is_not_waited_out(server: LoopbackServer, cache_dir: Path) -> None:
    paths = cached(server, cache_dir, ["busy"])
    server.route("/busy.jpg", too_many_requests("3600"))
    with ImageCache(cache_dir) as cache:
        (entry,) = cache.entries()
        started = time.monotonic()
        result = cache.refresh(entry, RefreshMode.FORCE)
        took = time.monotonic() - started

    assert result.action is Action.FAILED and took < 2.0
    assert result.error is not None and "asked to wait 3600 s" in result.error
    assert paths["busy"].read_bytes() == OLD


def test_a_short_retry_after_is_honoured(server: LoopbackServer, cache_dir: Path) -> None:
    paths = cached(server, cache_dir, ["later"])
    server.route("/later.jpg", sequence(too_many_requests("1"), image(NEW)))
    with ImageCache(cache_dir) as cache:
        (entry,) = cache.entries()
        started = time.monotonic()
        result = cache.refresh(entry, RefreshMode.FORCE)
        took = time.monotonic() - started

    assert result.action is Action.REFRESHED, result.error
    assert took >= 1.0
    assert paths["later"].read_bytes() == NEW


def test_max_time_is_a_command_line_option(cache_dir: Path) -> None:
    completed = subprocess.run(
        [str(COMMAND), "refresh", "--all", "--max-time", "0", "--cache-dir", str(cache_dir)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=os.environ.copy(),
    )
    assert completed.returncode == 2 and "--max-time" in completed.stderr
