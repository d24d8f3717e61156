"""Feeds batches of refresh jobs to a thread pool and keeps each job alive until it reports."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal, Slot

from core.cache import ImageCache
from core.cancellation import Cancellation
from core.models import Action, ImageEntry, RefreshMode, RefreshRequest, RefreshResult
from core.settings import refreshes_in_flight
from gui.refresh_jobs import RefreshJob

# Jobs made per turn of the event loop: a batch of 1,000 fills the pool over a few turns, and
# painting and input in between wait for no more than a few of them.
JOBS_PER_TURN = 4
# A job's thread only hands its request to the cache's executor (which may start the worker
# processes the first time): two are enough, and never one per download.
SUBMITTING_THREADS = 2


@dataclass
class BatchProgress:
    total: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    refused: int = 0  # placeholders the safety net kept out

    @property
    def finished(self) -> bool:
        return self.done >= self.total


class RefreshController(QObject):
    """Starts jobs, relays their signals, counts the batch, cancels and drains cleanly.

    Requests wait in a queue and become jobs only when the cache's executor can take them
    (twice its threads in flight), so refreshing 1,000 images costs the GUI thread one cheap
    call, and cancelling drops the waiting ones without having built them. A job only hands its
    request over, so the pool's few threads are never held by a running download.
    """

    job_started = Signal(str)
    job_progress = Signal(str, int)
    job_finished = Signal(str, object)  # key, RefreshResult
    jobs_dropped = Signal(list)  # keys of waiting requests removed by cancel before they ran
    batch_changed = Signal(object)  # BatchProgress
    batch_finished = Signal(object)  # BatchProgress

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(SUBMITTING_THREADS)
        self._cache: ImageCache | None = None
        self._waiting: deque[RefreshRequest] = deque()
        self._waiting_keys: set[str] = set()
        self._jobs: dict[str, RefreshJob] = {}
        self._cancel = Cancellation()
        self._batch = BatchProgress()

    def is_running(self) -> bool:
        return bool(self._jobs or self._waiting)

    def running_keys(self) -> set[str]:
        """Keys queued or running."""
        return self._waiting_keys | self._jobs.keys()

    def start(
        self,
        cache: ImageCache,
        entries: Iterable[ImageEntry],
        mode: RefreshMode,
        *,
        allow_placeholder: bool = False,
    ) -> list[str]:
        """Queue one refresh per entry not already queued or running; return the keys queued."""
        if not self.is_running():
            self._cancel = Cancellation()
            self._batch = BatchProgress()
        self._cache = cache
        busy = self.running_keys()
        queued = []
        for entry in entries:
            if entry.key not in busy:
                busy.add(entry.key)
                self._waiting.append(
                    RefreshRequest(entry, mode, allow_placeholder=allow_placeholder)
                )
                queued.append(entry.key)
        self._waiting_keys.update(queued)
        self._batch.total += len(queued)
        if queued:
            self.batch_changed.emit(self._batch)
            # Next turn of the event loop: the caller's repaint of the queued rows comes first.
            QTimer.singleShot(0, self, self._start_waiting)
        return queued

    def cancel(self) -> None:
        """Drop waiting requests and stop running ones between chunks; files stay as they were."""
        if not self.is_running():
            return
        self._cancel.set()
        dropped = [request.key for request in self._waiting]
        self._waiting.clear()
        self._waiting_keys.clear()
        for key, job in list(self._jobs.items()):
            if self._pool.tryTake(job):
                del self._jobs[key]
                dropped.append(key)
        self._batch.done += len(dropped)
        self._batch.cancelled += len(dropped)
        if dropped:
            self.jobs_dropped.emit(dropped)  # one update of the rows, however many were waiting
        self._report_batch()

    def wait_for_done(self, timeout_ms: int = -1) -> bool:
        return self._pool.waitForDone(timeout_ms)

    def _start_waiting(self) -> None:
        if self._cache is None:
            return
        in_flight = refreshes_in_flight(self._cache.settings.jobs)
        for _ in range(JOBS_PER_TURN):
            if not self._waiting or len(self._jobs) >= in_flight:
                return
            request = self._waiting.popleft()
            self._waiting_keys.discard(request.key)
            job = RefreshJob(
                self._cache,
                request.entry,
                force_refresh=request.force_refresh,
                check=request.mode is RefreshMode.CHECK,
                cancel=self._cancel,
                allow_placeholder=request.allow_placeholder,
                revert=request.mode is RefreshMode.REVERT,
            )
            job.setAutoDelete(False)  # the registry owns it until it reports
            job.signals.started.connect(self.job_started)
            job.signals.progress.connect(self.job_progress)
            job.signals.finished.connect(self._on_finished)
            self._jobs[request.key] = job
            self._pool.start(job)
        if self._waiting and len(self._jobs) < in_flight:
            QTimer.singleShot(0, self, self._start_waiting)  # the rest after pending events

    @Slot(str, object)
    def _on_finished(self, key: str, result: RefreshResult) -> None:
        self._jobs.pop(key, None)
        self._batch.done += 1
        if result.action is Action.FAILED:
            self._batch.failed += 1
        elif result.action is Action.CANCELLED:
            self._batch.cancelled += 1
        elif result.action is Action.REFUSED:
            self._batch.refused += 1
        self._start_waiting()
        self.job_finished.emit(key, result)
        self._report_batch()

    def _report_batch(self) -> None:
        self.batch_changed.emit(self._batch)
        if not self.is_running():
            self.batch_finished.emit(self._batch)
