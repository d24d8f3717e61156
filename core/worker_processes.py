"""Refreshes run in worker processes, so they use every core and leave the caller's GIL alone.

Each refresh costs a few milliseconds of Python (HTTP, decoding, the manifest). In one process
those milliseconds queue for the one GIL: more threads bring no more speed, and the window's GUI
thread waits behind them. Worker processes each open the same cache folder (its manifest and file
locks are made for several processes) and refresh on a few threads of their own; the caller's
threads only wait for the answer, and the workers' log records come back to the caller's log.

The download slots (see core.download_slots) are split among the workers, and each worker's
refreshes take its own share: a slot passes from one download to the next inside the process,
with no round trip to the parent. A worker keeps its place and its share; the shares of the
places add up to the limit, and only a limit lowered below the number of workers leaves the
surplus ones with theirs until their refreshes are done.

A worker that dies (killed, out of memory) fails the refreshes it was running with a clear
message: the files themselves are safe, since a refresh only ever renames a complete download
over the old file. The next refresh starts a new worker in its place, with its share.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import logging.handlers
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from core.download_slots import DownloadSlots
from core.http_client import ProgressCallback
from core.logging_setup import CORE_LOGGER
from core.models import RefreshResult
from core.settings import RefreshSettings

log = logging.getLogger(__name__)

_CANCEL_POLL = 0.05  # how often a waiting caller looks at its cancel event
_STOP_TIMEOUT = 10.0
_MAX_THREADS = 256  # a worker's threads are made on demand, as many as its parent has waiting


class WorkerStoppedError(RuntimeError):
    """The worker process running a refresh ended before it answered."""


@dataclass(frozen=True, slots=True)
class RefreshRequest:
    task_id: int
    key: str
    force_refresh: bool
    check_for_updates: bool
    thumbnail_edge: int | None
    wants_progress: bool


# Messages, parent → worker: ("refresh", RefreshRequest) | ("cancel", task_id)
#                            | ("limit", its share of the download slots) | ("stop",)
# worker → parent, in lists (see _Outbox): ("progress", task_id, received, total)
#                  | ("result", task_id, RefreshResult) | ("log", LogRecord)
#                  | ("broken", why it cannot work), and then it ends
Message = tuple[Any, ...]


@dataclass
class _Pending:
    """A refresh sent to a worker, as the parent's waiting thread and reader thread share it."""

    progress: ProgressCallback | None
    outcome: RefreshResult | WorkerStoppedError | None = None
    wake: threading.Event = field(default_factory=threading.Event)

    def finish(self, outcome: RefreshResult | WorkerStoppedError) -> None:
        self.outcome = outcome
        self.wake.set()


class _Worker:
    """One worker process, as its parent sees it: the pipe, the refreshes it is running."""

    def __init__(
        self, process: multiprocessing.process.BaseProcess, connection: Connection, share: int
    ):
        self.process = process
        self.connection = connection
        self.send_lock = threading.Lock()
        self.join_lock = threading.Lock()
        self.pending: dict[int, _Pending] = {}
        self.share = share  # of the download slots (see WorkerPool._shares)
        self.alive = True
        self.failure: str | None = None  # why it stopped, when it says so itself

    def send(self, message: Message) -> None:
        with self.send_lock:
            self.connection.send(message)

    def join(self, timeout: float) -> int | None:
        """Wait for the process to end; its exit code, or None while it runs.

        Every wait for the child goes through here: `exitcode` and `is_alive()` wait for it
        too, and a second thread's wait finds it already reaped and reports it running.
        """
        with self.join_lock:
            self.process.join(timeout)
            return self.process.exitcode


class WorkerPool:
    """Runs `ImageCache.refresh` calls in worker processes, `download_limit` downloads at once;
    safe from any thread.

    New refreshes go to `processes` workers, or to as many as the download limit when it is
    lower: each needs a slot. They start on the first refresh, in the calling thread (never the
    GUI thread: the window calls from its refresh jobs), and stop in `close()`.
    """

    def __init__(
        self,
        root: Path,
        settings: RefreshSettings,
        processes: int,
        niceness: int = 0,
        download_limit: int | None = None,
    ) -> None:
        if processes < 1:
            raise ValueError("a worker pool needs at least one process")
        self.root = root
        self.settings = settings
        self.processes = processes
        self.niceness = niceness
        self._download_limit = DownloadSlots.checked_limit(
            settings.jobs if download_limit is None else download_limit
        )
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._task_ids = itertools.count(1)
        self._closed = False

    def refresh(
        self,
        key: str,
        *,
        force_refresh: bool,
        check_for_updates: bool = False,
        cancel: threading.Event | None = None,
        progress: ProgressCallback | None = None,
        thumbnail_edge: int | None = None,
    ) -> RefreshResult:
        """Refresh `key` in a worker; block until it answers. Raises WorkerStoppedError.

        The arguments are those of `Refresher.refresh`; the download takes a slot of the
        worker's share. `progress` is called on this pool's reader thread.
        """
        request = RefreshRequest(
            next(self._task_ids),
            key,
            force_refresh,
            check_for_updates,
            thumbnail_edge,
            progress is not None,
        )
        pending = _Pending(progress)
        worker = self._assign(request.task_id, pending)
        try:
            worker.send(("refresh", request))
        except OSError as error:
            self._worker_stopped(worker)
            raise WorkerStoppedError(f"the worker process is gone ({error})") from error
        cancel_sent = False
        while pending.outcome is None:
            if cancel is not None and cancel.is_set() and not cancel_sent:
                cancel_sent = True
                with contextlib.suppress(OSError):  # gone: its reader fails the refresh
                    worker.send(("cancel", request.task_id))
            pending.wake.wait(_CANCEL_POLL if cancel is not None and not cancel_sent else None)
        if isinstance(pending.outcome, WorkerStoppedError):
            raise pending.outcome
        return pending.outcome

    def close(self) -> None:
        """Stop the workers: running refreshes finish or are cancelled, then the processes end."""
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, []
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.send(("stop",))
        for worker in workers:
            if worker.join(_STOP_TIMEOUT) is None:
                log.warning("worker process %s did not stop; terminating it", worker.process.pid)
                worker.process.terminate()
                worker.join(_STOP_TIMEOUT)

    def start(self) -> None:
        """Start the missing workers now rather than at the next refresh."""
        with self._lock:
            self._start_missing_workers()

    def set_download_limit(self, limit: int) -> None:
        """Downloads at once from now on; the running ones are not stopped.

        Shared out at once among the running workers; a worker the new limit calls for starts
        with the next refresh (this may be the GUI thread, which must not start processes).
        """
        limit = DownloadSlots.checked_limit(limit)
        with self._lock:
            self._download_limit = limit
            self._share_out()

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._workers if w.alive and w.process.pid]

    def _assign(self, task_id: int, pending: _Pending) -> _Worker:
        with self._lock:
            self._start_missing_workers()
            # the least loaded for its share: a worker with more slots gets through more
            worker = min(self._active(), key=lambda w: len(w.pending) / w.share)
            worker.pending[task_id] = pending
            return worker

    def _places(self) -> int:
        """Worker places: one per process, but no more than there are download slots."""
        return min(self.processes, self._download_limit)

    def _shares(self) -> list[int]:
        """The share of each worker place: the limit split over the places.

        Places are fixed, so a raised limit never lowers a running worker's share while a new
        worker takes slots (the sum would pass the limit until the old downloads ended).
        """
        each, rest = divmod(self._download_limit, self._places())
        return [each + (1 if place < rest else 0) for place in range(self._places())]

    def _active(self) -> list[_Worker]:
        """The workers new refreshes go to: those in a place. Any after them are surplus (the
        limit fell below their number) and keep their share for the refreshes they still run."""
        return self._workers[: self._places()]

    def _start_missing_workers(self) -> None:
        """Fill every place with a running worker; a dead one's place goes to its successor."""
        if self._closed:
            raise WorkerStoppedError("the cache is closed")
        shares = self._shares()
        surplus = [w for w in self._workers[len(shares) :] if w.alive]
        places = self._workers[: len(shares)]
        for place, share in enumerate(shares):
            if place == len(places):
                places.append(self._start_worker(share))
            elif not places[place].alive:
                places[place] = self._start_worker(share)
        self._workers = places + surplus
        self._share_out()

    def _share_out(self) -> None:
        """Tell the running workers in a place their share, where it changed."""
        for worker, share in zip(self._workers, self._shares(), strict=False):
            if worker.alive and share != worker.share:
                worker.share = share
                with contextlib.suppress(OSError):  # gone: its reader fails its refreshes
                    worker.send(("limit", share))

    def _start_worker(self, share: int) -> _Worker:
        context = multiprocessing.get_context("spawn")  # no fork: the caller may run Qt threads
        parent_end, child_end = context.Pipe()
        log_level = logging.getLogger(CORE_LOGGER).getEffectiveLevel()
        process = context.Process(
            target=worker_main,
            args=(child_end, self.root, self.settings, log_level, self.niceness, share),
            name="image-refresh-worker",
            daemon=True,
        )
        process.start()
        child_end.close()
        worker = _Worker(process, parent_end, share)
        threading.Thread(
            target=self._read, args=(worker,), name="refresh-worker-reader", daemon=True
        ).start()
        log.debug("started worker process %s", process.pid)
        return worker

    def _read(self, worker: _Worker) -> None:
        while True:
            try:
                messages: list[Message] = worker.connection.recv()
            except (EOFError, OSError):
                self._worker_stopped(worker)
                return
            for message in messages:
                self._dispatch(worker, message)

    def _dispatch(self, worker: _Worker, message: Message) -> None:
        kind = message[0]
        if kind == "broken":
            worker.failure = message[1]
            return
        if kind == "log":
            record: logging.LogRecord = message[1]
            logging.getLogger(record.name).handle(record)
            return
        with self._lock:
            pending = (
                worker.pending.pop(message[1], None)
                if kind == "result"
                else worker.pending.get(message[1])
            )
        if pending is None:
            return
        if kind == "result":
            pending.finish(message[2])
        elif kind == "progress" and pending.progress is not None:
            pending.progress(message[2], message[3])

    def _worker_stopped(self, worker: _Worker) -> None:
        with self._lock:
            worker.alive = False
            orphans, worker.pending = worker.pending, {}
        if not orphans:
            return
        exit_code = worker.join(1.0)
        log.error(
            "worker process %s stopped (exit code %s) during %d refresh(es)",
            worker.process.pid,
            exit_code,
            len(orphans),
        )
        reason = worker.failure or (
            f"the worker process stopped unexpectedly (exit code {exit_code})"
        )
        for pending in orphans.values():
            pending.finish(WorkerStoppedError(reason))


# --- the worker process ---------------------------------------------------------------------


class _Outbox:
    """The worker's end of the pipe, shared by its threads; also the queue of its log handler.

    A refresh logs several INFO records, and a record sent alone costs the parent a wake-up and a
    read of its own. So INFO and DEBUG records wait for the next message and go with it, in one
    list: a refresh's records never wait longer than its result. WARNING and above go at once.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self._records: list[Message] = []

    def send(self, message: Message) -> None:
        with self._lock:
            batch, self._records = self._records, []
            batch.append(message)
            self._connection.send(batch)

    def put_nowait(self, record: logging.LogRecord) -> None:
        """QueueHandler's call, with the record formatted and picklable."""
        if record.levelno >= logging.WARNING:
            self.send(("log", record))
            return
        with self._lock:
            self._records.append(("log", record))

    def flush(self) -> None:
        with self._lock:
            batch, self._records = self._records, []
            if batch:
                self._connection.send(batch)


class _Task:
    """A refresh running in the worker: its cancel flag, and its progress reports."""

    def __init__(self, request: RefreshRequest, send: Callable[[Message], None]) -> None:
        self.request = request
        self.cancel = threading.Event()  # also ends its wait for a download slot
        self._send = send

    def report(self, received: int, total: int | None) -> None:
        self._send(("progress", self.request.task_id, received, total))  # once per 64 KiB


def worker_main(
    connection: Connection,
    root: Path,
    settings: RefreshSettings,
    log_level: int,
    niceness: int,
    download_share: int,
) -> None:
    """The worker process: refresh what the parent asks, each request on a thread of its own
    (the parent bounds how many it sends: one per thread of its own waiting for the answer),
    as many downloads at once as its share of the slots."""
    os.nice(niceness)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    from core.cache import ImageCache  # noqa: PLC0415 - core.cache imports this module

    outbox = _Outbox(connection)
    core_log = logging.getLogger(CORE_LOGGER)
    core_log.setLevel(log_level)
    core_log.addHandler(logging.handlers.QueueHandler(outbox))  # type: ignore[arg-type]
    core_log.propagate = False

    tasks: dict[int, _Task] = {}
    tasks_lock = threading.Lock()

    def refresh(cache: ImageCache, task: _Task) -> None:
        request = task.request
        try:
            result = cache.refresh_key(
                request.key,
                force_refresh=request.force_refresh,
                check_for_updates=request.check_for_updates,
                cancel=task.cancel,
                progress=task.report if request.wants_progress else None,
                thumbnail_edge=request.thumbnail_edge,
            )
        except Exception as error:  # reported on the refresh, never a dead worker
            log.exception("refresh of %s failed unexpectedly", request.key)
            result = cache.unexpected_failure(request.key, request.force_refresh, error)
        finally:
            with tasks_lock:
                tasks.pop(request.task_id, None)
        outbox.send(("result", request.task_id, result))

    try:
        cache = ImageCache(root, settings).open()
    except Exception as error:  # e.g. the manifest was damaged since the parent opened it
        outbox.send(("broken", f"a worker process cannot open the cache: {error}"))
        return
    cache.set_download_limit(download_share)  # the parent sends a new share when it changes
    gc.freeze()  # what is loaded now lives as long as the worker: no collector pass walks it
    with cache, ThreadPoolExecutor(_MAX_THREADS, thread_name_prefix="refresh") as pool:
        while True:
            try:
                message = connection.recv()
            except (EOFError, OSError):
                message = ("stop",)  # the parent is gone
            if message[0] == "refresh":
                task = _Task(message[1], outbox.send)
                with tasks_lock:
                    tasks[task.request.task_id] = task
                pool.submit(refresh, cache, task)
            elif message[0] == "cancel":
                with tasks_lock:
                    found = tasks.get(message[1])
                if found is not None:
                    found.cancel.set()
            elif message[0] == "limit":
                cache.set_download_limit(message[1])
            elif message[0] == "stop":
                with tasks_lock:
                    for running in tasks.values():
                        running.cancel.set()
                break
    with contextlib.suppress(OSError):  # a parent that is gone hears nothing more
        outbox.flush()  # what closing the cache logged
