"""The process backend: refreshes run in worker processes, on every core, off the caller's GIL.

Each refresh costs a few milliseconds of Python (HTTP, decoding, the manifest). In one process
those milliseconds queue for the one GIL: more threads bring no more speed, and the window's GUI
thread waits behind them. Worker processes each open the same cache folder (its manifest and file
locks are made for several processes) and run a ThreadExecutor of their own; the caller only
sends requests, and a reader thread per worker hands back results, progress and log records.
Workers start fresh (spawn), or forked from the command line, whose modules they then need not
import again (see `Backend.FORKED_PROCESSES`).

The download limit is split once among the workers (8 slots, 2 workers: 4 each), so a slot passes
from one download to the next inside a worker with no round trip to the caller. A worker that
dies (killed, out of memory) fails the refreshes it was running with a clear reason: the files are
safe, since a refresh only ever renames a complete download over the old file. The next refresh
starts a new worker in its place, with its share.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import logging
import logging.handlers
import multiprocessing
import os
import signal
import threading
import weakref
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from core.cancellation import Cancellation
from core.executor import RefreshExecutor, ThreadExecutor, failed_result, fork_is_safe
from core.http_client import ProgressCallback
from core.logging_setup import CORE_LOGGER
from core.manifest import Manifest
from core.models import FailureReason, RefreshRequest, RefreshResult
from core.refresh import Refresher
from core.settings import RefreshSettings
from core.storage import CacheStorage
from core.variants import load_rules

log = logging.getLogger(__name__)

_STOP_TIMEOUT = 10.0

# Messages, caller → worker: ("refresh", task id, RefreshRequest, wants progress, cancel id)
#                            | ("cancel", cancel id) | ("stop",)
# A cancel id stands for one of the caller's Cancellations, so a batch cancelled at once is
# cancelled at once in the worker too: a refresh waiting for a slot never takes the one a
# cancelled download gives back before its own cancel has arrived.
# worker → caller, in lists (see _Outbox): ("progress", task id, received, total)
#                  | ("result", task id, RefreshResult) | ("log", LogRecord)
#                  | ("broken", why it cannot work), and then it ends
Message = tuple[Any, ...]


def download_shares(limit: int, processes: int) -> list[int]:
    """The limit split over min(processes, limit) workers: each needs at least one slot."""
    workers = min(processes, limit)
    each, rest = divmod(limit, workers)
    return [each + (1 if place < rest else 0) for place in range(workers)]


@dataclass
class _Task:
    """A refresh sent to a worker, as the caller's side keeps it until the answer."""

    request: RefreshRequest
    future: Future[RefreshResult]
    progress: ProgressCallback | None


class _Worker:
    """One worker process, as its caller sees it: the pipe, the refreshes it is running."""

    def __init__(self, process: multiprocessing.process.BaseProcess, connection: Connection):
        self.process = process
        self.connection = connection
        self.send_lock = threading.Lock()
        self.join_lock = threading.Lock()
        self.tasks: dict[int, _Task] = {}
        self.cancels_heard: set[int] = set()  # cancel ids whose cancel reaches this worker
        self.alive = True
        self.failure: str | None = None  # why it stopped, when it says so itself

    def send(self, message: Message) -> None:
        with self.send_lock:
            self.connection.send(message)

    def join(self, timeout: float) -> int | None:
        """Wait for the process to end; its exit code, or None while it runs.

        Every wait for the child goes through here: `exitcode` waits for it too, and a second
        thread's wait finds it already reaped and reports it running.
        """
        with self.join_lock:
            self.process.join(timeout)
            return self.process.exitcode


class ProcessExecutor(RefreshExecutor):
    """Runs refreshes in `processes` worker processes (fewer when the download limit is lower:
    each needs a slot); safe from any thread.

    Workers start on the first refresh (or `start()`), in the calling thread: never the GUI
    thread, which submits from its refresh jobs.
    """

    def __init__(
        self,
        root: Path,
        settings: RefreshSettings,
        processes: int,
        niceness: int = 0,
        *,
        forked: bool = False,
    ) -> None:
        """`forked`: fork the workers from this process instead of starting fresh ones (see
        `Backend.FORKED_PROCESSES`)."""
        if processes < 1:
            raise ValueError("a worker pool needs at least one process")
        if forked and not fork_is_safe():
            raise ValueError("worker processes cannot be forked on this platform")
        self.root = root
        self.settings = settings
        self.niceness = niceness
        self.forked = forked
        self._shares = download_shares(settings.jobs, processes)
        self._workers: list[_Worker | None] = [None] * len(self._shares)
        self._lock = threading.Lock()
        self._task_ids = itertools.count(1)
        self._cancel_ids: weakref.WeakKeyDictionary[Cancellation, int] = weakref.WeakKeyDictionary()
        self._closed = False

    def submit(
        self,
        request: RefreshRequest,
        cancel: Cancellation | None = None,
        progress: ProgressCallback | None = None,
    ) -> Future[RefreshResult]:
        future: Future[RefreshResult] = Future()
        task_id = next(self._task_ids)
        with self._lock:
            if self._closed:
                future.set_result(self._failed(request, "the cache is closed"))
                return future
            worker = self._least_loaded()
            worker.tasks[task_id] = _Task(request, future, progress)
            cancel_id: int | None = None
            tell_worker = False
            if cancel is not None:
                cancel_id = self._cancel_ids.setdefault(cancel, task_id)
                tell_worker = cancel_id not in worker.cancels_heard
                worker.cancels_heard.add(cancel_id)
        try:
            if cancel is not None and cancel.is_set():  # first: the refresh starts cancelled
                worker.send(("cancel", cancel_id))
            worker.send(("refresh", task_id, request, progress is not None, cancel_id))
        except OSError:
            self._worker_stopped(worker)  # fails this refresh with the others it ran
            return future
        if cancel is not None and cancel_id is not None and tell_worker:
            # after the request, which the worker reads first
            cancel.subscribe(functools.partial(self._send_cancel, worker, cancel_id))
        return future

    def start(self) -> None:
        with self._lock:
            for place in range(len(self._workers)):
                self._worker_at(place)

    def close(self) -> None:
        """Stop the workers: running refreshes finish or are cancelled, then the processes end."""
        with self._lock:
            self._closed = True
            workers = [w for w in self._workers if w is not None]
            self._workers = [None] * len(self._workers)
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.send(("stop",))
        for worker in workers:
            if worker.join(_STOP_TIMEOUT) is None:
                log.warning("worker process %s did not stop; terminating it", worker.process.pid)
                worker.process.terminate()
                worker.join(_STOP_TIMEOUT)

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._workers if w and w.alive and w.process.pid]

    def _least_loaded(self) -> _Worker:
        """The worker with the fewest refreshes for its share (a dead one is replaced)."""
        workers = [self._worker_at(place) for place in range(len(self._workers))]
        place = min(range(len(workers)), key=lambda p: len(workers[p].tasks) / self._shares[p])
        return workers[place]

    def _worker_at(self, place: int) -> _Worker:
        worker = self._workers[place]
        if worker is None or not worker.alive:
            worker = self._workers[place] = self._start_worker(self._shares[place])
        return worker

    def _start_worker(self, share: int) -> _Worker:
        # A forked SQLite library would share the caller's locks on a database it has open,
        # and break them: then the worker starts fresh (a dead worker's replacement, say).
        fork = self.forked and not sqlite_files_open()
        context = (
            multiprocessing.get_context("fork") if fork else multiprocessing.get_context("spawn")
        )
        parent_end, child_end = context.Pipe()
        # A forked worker holds copies of the caller's ends of the pipes: its own and the other
        # workers'. It closes them first (see worker_main); a spawned one has none.
        inherited = [parent_end, *(w.connection for w in self._workers if w)] if fork else []
        log_level = logging.getLogger(CORE_LOGGER).getEffectiveLevel()
        process = context.Process(
            target=worker_main,
            args=(inherited, child_end, self.root, self.settings, log_level, self.niceness, share),
            name="image-refresh-worker",
            daemon=True,
        )
        process.start()
        child_end.close()
        worker = _Worker(process, parent_end)
        threading.Thread(
            target=self._read, args=(worker,), name="refresh-worker-reader", daemon=True
        ).start()
        log.debug(
            "%s worker process %s with %d download slot(s)",
            "forked" if fork else "started",
            process.pid,
            share,
        )
        return worker

    def _send_cancel(self, worker: _Worker, cancel_id: int) -> None:
        if worker.alive:
            with contextlib.suppress(OSError):  # gone: its reader fails the refreshes
                worker.send(("cancel", cancel_id))

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
        elif kind == "log":
            record: logging.LogRecord = message[1]
            logging.getLogger(record.name).handle(record)
        elif kind == "progress":
            task = worker.tasks.get(message[1])
            if task is not None and task.progress is not None:
                task.progress(message[2], message[3])
        elif kind == "result":
            with self._lock:
                task = worker.tasks.pop(message[1], None)
            if task is not None:
                task.future.set_result(message[2])

    def _worker_stopped(self, worker: _Worker) -> None:
        with self._lock:
            worker.alive = False
            orphans, worker.tasks = worker.tasks, {}
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
            f"the worker process stopped unexpectedly (exit code {exit_code}); "
            "the file was not touched"
        )
        for task in orphans.values():
            task.future.set_result(self._failed(task.request, reason))

    def _failed(self, request: RefreshRequest, reason: str) -> RefreshResult:
        return failed_result(request, self.root, FailureReason.UNEXPECTED, reason)


def sqlite_files_open() -> bool:
    """Whether this process has one of our SQLite databases open (each is a `*.sqlite3` file,
    with its -wal and -shm beside it). Reads /proc/self/fd: Linux, where workers are forked."""
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return True  # cannot tell: assume so
    for fd in fds:
        try:
            name = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed since (the listing's own)
        if name.endswith((".sqlite3", ".sqlite3-wal", ".sqlite3-shm", ".sqlite3-journal")):
            return True
    return False


# --- the worker process ---------------------------------------------------------------------


class _Outbox:
    """The worker's end of the pipe, shared by its threads; also the queue of its log handler.

    A refresh logs several INFO records, and a record sent alone costs the caller a wake-up and a
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


def worker_main(
    inherited: list[Connection],
    connection: Connection,
    root: Path,
    settings: RefreshSettings,
    log_level: int,
    niceness: int,
    download_share: int,
) -> None:
    """The worker process: refresh what the caller asks on a ThreadExecutor with this worker's
    share of the download slots, and answer each request as it finishes.

    `inherited`: the caller's pipe ends a forked worker has copies of. Held, the caller's end of
    a worker's pipe would keep that worker from hearing the caller end.
    """
    for copy in inherited:
        copy.close()
    os.nice(niceness)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the caller's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked one's is the command line's
    outbox = _Outbox(connection)
    core_log = logging.getLogger(CORE_LOGGER)
    core_log.setLevel(log_level)
    core_log.handlers.clear()  # a forked worker's copies of the caller's, whose writer is not here
    core_log.addHandler(logging.handlers.QueueHandler(outbox))  # type: ignore[arg-type]
    core_log.propagate = False

    opened: _OpenCache | None = None  # at the first refresh: the caller has opened it by then
    running: dict[int, tuple[Cancellation, int | None]] = {}  # task id: its cancel and id
    batches: dict[int, Cancellation] = {}  # cancel id: the batch's cancel, while it runs
    cancelled: set[int] = set()  # cancel ids already cancelled (a refresh may follow)
    lock = threading.Lock()

    def answer(task_id: int, future: Future[RefreshResult]) -> None:
        with lock:
            _, cancel_id = running.pop(task_id)
            if cancel_id is not None and all(i != cancel_id for _, i in running.values()):
                batches.pop(cancel_id, None)
        with contextlib.suppress(OSError):  # a caller that is gone hears nothing more
            outbox.send(("result", task_id, future.result()))

    def report(task_id: int, received: int, total: int | None) -> None:
        with contextlib.suppress(OSError):
            outbox.send(("progress", task_id, received, total))

    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            message = ("stop",)  # the caller is gone
        if message[0] == "refresh":
            if opened is None:
                try:
                    opened = _OpenCache.open(root, settings, download_share)
                except Exception as error:  # e.g. a manifest damaged since the caller's open
                    outbox.send(("broken", f"a worker process cannot open the cache: {error}"))
                    return
                gc.freeze()  # what is loaded now lives as long as the worker: GC skips it
            _, task_id, request, wants_progress, cancel_id = message
            with lock:
                if cancel_id is None:
                    cancel = Cancellation()
                else:
                    cancel = batches.setdefault(cancel_id, Cancellation())
                    if cancel_id in cancelled:
                        cancel.set()
                running[task_id] = (cancel, cancel_id)
            progress = functools.partial(report, task_id) if wants_progress else None
            future = opened.executor.submit(request, cancel, progress)
            future.add_done_callback(functools.partial(answer, task_id))
        elif message[0] == "cancel":
            with lock:
                cancelled.add(message[1])
                found = batches.get(message[1])
            if found is not None:
                found.set()
        elif message[0] == "stop":
            with lock:
                everything = [cancel for cancel, _ in running.values()]
            for cancel in everything:
                cancel.set()
            break
    if opened is not None:
        opened.close()
    with contextlib.suppress(OSError):
        outbox.flush()  # what closing the cache logged


@dataclass
class _OpenCache:
    """A worker's own opening of the caller's cache folder, and its executor."""

    storage: CacheStorage
    manifest: Manifest
    executor: ThreadExecutor

    @classmethod
    def open(cls, root: Path, settings: RefreshSettings, download_share: int) -> _OpenCache:
        storage = CacheStorage.for_folder(root)
        manifest = Manifest(storage.manifest_path)
        storage.open()
        try:
            manifest.open()
        except BaseException:
            storage.close()
            raise
        rules = load_rules(storage.state_dir) if storage.adopted else []
        executor = ThreadExecutor(Refresher(storage, manifest, settings, rules), download_share)
        return cls(storage, manifest, executor)

    def close(self) -> None:
        self.executor.close()
        self.manifest.close()
        self.storage.close()
