"""Refreshes run in worker processes, so they use every core and leave the caller's GIL alone.

Each refresh costs a few milliseconds of Python (HTTP, decoding, the manifest). In one process
those milliseconds queue for the one GIL: more threads bring no more speed, and the window's GUI
thread waits behind them. Worker processes each open the same cache folder (its manifest and file
locks are made for several processes) and refresh on a few threads of their own; the caller's
threads only wait for the answer, and the workers' log records come back to the caller's log.

A worker that dies (killed, out of memory) fails the refreshes it was running with a clear
message: the files themselves are safe, since a refresh only ever renames a complete download
over the old file. The next refresh starts a new worker.
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

from core.download_slots import DownloadGate
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
    gated: bool  # it waits for the parent's "go" before its request (the download slot)


# Messages, parent → worker: ("refresh", RefreshRequest) | ("go", task_id) | ("cancel", task_id)
#                            | ("stop",)
# worker → parent, in lists (see _Outbox): ("ready", task_id)
#                  | ("progress", task_id, received, total) | ("downloaded", task_id)
#                  | ("result", task_id, RefreshResult) | ("log", LogRecord)
#                  | ("broken", why it cannot work), and then it ends
Message = tuple[Any, ...]


@dataclass
class _Pending:
    """A refresh sent to a worker, as the parent's waiting thread and reader thread share it."""

    progress: ProgressCallback | None
    gate: DownloadGate | None
    ready: bool = False  # the worker has prepared and waits for "go"
    outcome: RefreshResult | WorkerStoppedError | None = None
    wake: threading.Event = field(default_factory=threading.Event)

    def finish(self, outcome: RefreshResult | WorkerStoppedError) -> None:
        self.outcome = outcome
        self.wake.set()


class _Worker:
    """One worker process, as its parent sees it: the pipe, the refreshes it is running."""

    def __init__(self, process: multiprocessing.process.BaseProcess, connection: Connection):
        self.process = process
        self.connection = connection
        self.send_lock = threading.Lock()
        self.join_lock = threading.Lock()
        self.pending: dict[int, _Pending] = {}
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
    """Runs `ImageCache.refresh` calls in `processes` worker processes; safe from any thread.

    Workers start on the first refresh, in the calling thread (never the GUI thread: the window
    calls from its refresh jobs), and stop in `close()`.
    """

    def __init__(
        self, root: Path, settings: RefreshSettings, processes: int, niceness: int = 0
    ) -> None:
        if processes < 1:
            raise ValueError("a worker pool needs at least one process")
        self.root = root
        self.settings = settings
        self.processes = processes
        self.niceness = niceness
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
        gate: DownloadGate | None = None,
    ) -> RefreshResult:
        """Refresh `key` in a worker; block until it answers. Raises WorkerStoppedError.

        The arguments are those of `Refresher.refresh`. The worker prepares, then this thread
        passes the `gate` for it and tells it to go; `progress` and the gate's `done` are called
        on this pool's reader thread.
        """
        request = RefreshRequest(
            next(self._task_ids),
            key,
            force_refresh,
            check_for_updates,
            thumbnail_edge,
            progress is not None,
            gate is not None,
        )
        pending = _Pending(progress, gate)
        worker = self._assign(request.task_id, pending)
        try:
            worker.send(("refresh", request))
        except OSError as error:
            self._worker_stopped(worker)
            raise WorkerStoppedError(f"the worker process is gone ({error})") from error
        cancel_sent = go_sent = False
        while pending.outcome is None:
            if cancel is not None and cancel.is_set() and not cancel_sent:
                cancel_sent = True
                with contextlib.suppress(OSError):  # gone: its reader fails the refresh
                    worker.send(("cancel", request.task_id))
            if pending.ready and not go_sent and gate is not None:
                go_sent = True
                # Not taken: cancelled (sent on the next turn), or the worker died meanwhile.
                if gate.wait(give_up=lambda: pending.outcome is not None):
                    with contextlib.suppress(OSError):
                        worker.send(("go", request.task_id))
                continue
            pending.wake.wait(_CANCEL_POLL)
            pending.wake.clear()
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

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._workers if w.alive and w.process.pid]

    def _assign(self, task_id: int, pending: _Pending) -> _Worker:
        with self._lock:
            self._start_missing_workers()
            worker = min(self._workers, key=lambda w: len(w.pending))
            worker.pending[task_id] = pending
            return worker

    def _start_missing_workers(self) -> None:
        if self._closed:
            raise WorkerStoppedError("the cache is closed")
        self._workers = [w for w in self._workers if w.alive]
        while len(self._workers) < self.processes:
            self._workers.append(self._start_worker())

    def _start_worker(self) -> _Worker:
        context = multiprocessing.get_context("spawn")  # no fork: the caller may run Qt threads
        parent_end, child_end = context.Pipe()
        log_level = logging.getLogger(CORE_LOGGER).getEffectiveLevel()
        process = context.Process(
            target=worker_main,
            args=(child_end, self.root, self.settings, log_level, self.niceness),
            name="image-refresh-worker",
            daemon=True,
        )
        process.start()
        child_end.close()
        worker = _Worker(process, parent_end)
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
        elif kind == "ready":
            pending.ready = True
            pending.wake.set()
        elif kind == "progress" and pending.progress is not None:
            pending.progress(message[2], message[3])
        elif kind == "downloaded" and pending.gate is not None:
            pending.gate.done()

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

    A refresh logs several INFO records and sends several messages. Each record costs the parent
    a wake-up and a read of its own, so INFO and DEBUG records wait for the next message and go
    with it, in one list: a refresh's records never wait longer than its result. WARNING and
    above go at once.
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
    """A refresh running in the worker: how the main loop cancels it or lets it download."""

    def __init__(self, request: RefreshRequest, send: Callable[[Message], None]) -> None:
        self.request = request
        self.cancel = threading.Event()
        self._go = threading.Event()
        self._send = send

    def stop(self) -> None:
        self.cancel.set()
        self._go.set()  # a refresh waiting for its slot ends as cancelled

    def go(self) -> None:
        self._go.set()

    # the DownloadGate the refresher passes: the parent holds the slots of all the workers
    def wait(self, give_up: Callable[[], bool] | None = None) -> bool:
        self._send(("ready", self.request.task_id))
        self._go.wait()
        return not self.cancel.is_set()

    def done(self) -> None:
        self._send(("downloaded", self.request.task_id))

    def report(self, received: int, total: int | None) -> None:
        self._send(("progress", self.request.task_id, received, total))  # once per 64 KiB


def worker_main(
    connection: Connection, root: Path, settings: RefreshSettings, log_level: int, niceness: int
) -> None:
    """The worker process: refresh what the parent asks, each request on a thread of its own
    (the parent bounds how many it sends: one per thread of its own waiting for the answer)."""
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
            result = cache.refresher.refresh(
                request.key,
                force_refresh=request.force_refresh,
                check_for_updates=request.check_for_updates,
                cancel=task.cancel,
                progress=task.report if request.wants_progress else None,
                thumbnail_edge=request.thumbnail_edge,
                gate=task if request.gated else None,
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
            elif message[0] in ("go", "cancel"):
                with tasks_lock:
                    found = tasks.get(message[1])
                if found is not None and message[0] == "go":
                    found.go()
                elif found is not None:
                    found.stop()
            elif message[0] == "stop":
                with tasks_lock:
                    for running in tasks.values():
                        running.stop()
                break
    with contextlib.suppress(OSError):  # a parent that is gone hears nothing more
        outbox.flush()  # what closing the cache logged
