"""Runs batches of refresh jobs on a thread pool and keeps each job alive until it reports."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from core.cache import ImageCache
from core.models import Action, ImageEntry, RefreshResult
from gui.refresh_jobs import RefreshJob


@dataclass
class BatchProgress:
    total: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def finished(self) -> bool:
        return self.done >= self.total


class RefreshController(QObject):
    """Starts jobs, relays their signals, counts the batch, cancels and drains cleanly."""

    job_started = Signal(str)
    job_progress = Signal(str, int)
    job_finished = Signal(str, object)  # key, RefreshResult
    jobs_dropped = Signal(list)  # keys of queued jobs removed by cancel before they ran
    batch_changed = Signal(object)  # BatchProgress
    batch_finished = Signal(object)  # BatchProgress

    def __init__(self, jobs: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(jobs)
        self._jobs: dict[str, RefreshJob] = {}
        self._cancel = threading.Event()
        self._batch = BatchProgress()

    def set_concurrency(self, jobs: int) -> None:
        self._pool.setMaxThreadCount(jobs)

    def is_running(self) -> bool:
        return bool(self._jobs)

    def running_keys(self) -> set[str]:
        return set(self._jobs)

    def start(
        self,
        cache: ImageCache,
        entries: Iterable[ImageEntry],
        *,
        force_refresh: bool,
        check_for_updates: bool = False,
    ) -> list[str]:
        """Queue one job per entry not already queued; return the keys queued."""
        if not self._jobs:
            self._cancel = threading.Event()
            self._batch = BatchProgress()
        queued: list[RefreshJob] = []
        for entry in entries:
            if entry.key in self._jobs:
                continue
            job = RefreshJob(
                cache,
                entry,
                force_refresh=force_refresh,
                check_for_updates=check_for_updates,
                cancel=self._cancel,
            )
            job.setAutoDelete(False)  # the registry owns it until it reports
            job.signals.started.connect(self.job_started)
            job.signals.progress.connect(self.job_progress)
            job.signals.finished.connect(self._on_finished)
            self._jobs[entry.key] = job
            queued.append(job)
        self._batch.total += len(queued)
        if queued:
            self.batch_changed.emit(self._batch)
        # Started last: once the workers run, this thread shares the GIL with them and every
        # step of it (building 1,000 jobs, repainting) takes many times longer.
        for job in queued:
            self._pool.start(job)
        return [job.entry.key for job in queued]

    def cancel(self) -> None:
        """Drop queued jobs and stop running ones between chunks; files stay as they were."""
        if not self._jobs:
            return
        self._cancel.set()
        dropped = [key for key, job in self._jobs.items() if self._pool.tryTake(job)]
        for key in dropped:
            del self._jobs[key]
        self._batch.done += len(dropped)
        self._batch.cancelled += len(dropped)
        if dropped:
            self.jobs_dropped.emit(dropped)  # one update of the rows, however many were queued
        self._report_batch()

    def wait_for_done(self, timeout_ms: int = -1) -> bool:
        return self._pool.waitForDone(timeout_ms)

    @Slot(str, object)
    def _on_finished(self, key: str, result: RefreshResult) -> None:
        self._jobs.pop(key, None)
        self._batch.done += 1
        if result.action is Action.FAILED:
            self._batch.failed += 1
        elif result.action is Action.CANCELLED:
            self._batch.cancelled += 1
        self.job_finished.emit(key, result)
        self._report_batch()

    def _report_batch(self) -> None:
        self.batch_changed.emit(self._batch)
        if not self._jobs:
            self.batch_finished.emit(self._batch)
