"""Scanning a cache's files for their health, on every core, and repairing the broken ones.

A scan reads files and never writes them. It first looks each file up in the verdict memory
(core.health_memory): an unchanged file (same size and mtime) keeps its verdict without being
read. The rest are checked in worker processes, in batches of many files per task (one message
each way per batch, not per file). A few files are checked in the calling thread: starting
worker processes costs more than they would save.

Worker processes start by `fork` when the caller says it may (the command line: a fork costs a
few milliseconds, a fresh interpreter a third of a second), by `spawn` otherwise (the window,
whose Qt threads make fork unsafe). A cancel (Esc, Ctrl+C) drops the batches not started and
tells the workers, which stop after the file each is reading.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import TYPE_CHECKING

from core.cancellation import Cancellation
from core.health import Health, Verdict, classify_file
from core.health_memory import Row, VerdictMemory, holds_for, verdict_of
from core.models import Action, ImageEntry, RefreshMode, RefreshResult
from core.secrets import redact
from core.settings import worker_process_count

if TYPE_CHECKING:
    from core.cache import ImageCache

log = logging.getLogger(__name__)

ScanProgress = Callable[[int, int], None]  # (files done, files in all)
# Fewer files than this to read are checked in the calling thread.
IN_PROCESS_MAX_FILES = 64
# Files per task: enough to make a message's cost small, few enough to spread the work and to
# stop soon after a cancel.
BATCH_MAX_FILES = 256
BATCHES_PER_WORKER = 4
SCANNED = "scanned"  # the action of a record whose file was only read
_PR_SET_PDEATHSIG = 1  # prctl(2)


@dataclass(frozen=True, slots=True)
class HealthRecord:
    """One target of a scan: its file's verdict and, after --repair, what the repair did."""

    entry: ImageEntry
    file: str | None  # the file's absolute path (a string: a scan makes thousands of records)
    verdict: Verdict
    remembered: bool = False  # the verdict came from the memory: the file was not read
    repair: RefreshResult | None = None
    after: Verdict | None = None  # the file's health after the repair

    @property
    def path(self) -> Path | None:
        return None if self.file is None else Path(self.file)

    @property
    def health(self) -> Health:
        return self.verdict.health

    @property
    def ok(self) -> bool:
        """Whether the file is whole now: after a repair, the repaired file's health."""
        if self.repair is None:
            return self.verdict.health.ok
        return self.repair.ok and self.after is not None and self.after.health.ok

    @property
    def needs_repair(self) -> bool:
        return not self.verdict.health.ok

    @property
    def repairable(self) -> bool:
        return self.needs_repair and self.entry.url is not None

    def to_json_dict(self) -> dict[str, object]:
        """The contract's record: the v1 keys, `health` and `detail` (and after a repair the
        refresh's action, mtime and error, and `health_after`). URLs have their secrets
        hidden."""
        verdict, repair = self.verdict, self.repair
        record: dict[str, object] = {
            "url": redact(self.entry.url),
            "path": self.file,
            "category": self.entry.category,
            "action": repair.action.value if repair else SCANNED,
            "before_mtime": verdict.mtime,
            "after_mtime": verdict.mtime,
            "bytes": verdict.size,
            "sha256": verdict.sha256,
            "ok": self.ok,
            "error": None if verdict.health.ok else verdict.detail,
            "health": verdict.health.value,
            "detail": verdict.detail,
        }
        if repair is not None:
            after = self.after
            record.update(
                {
                    "path": str(repair.path) if repair.path else record["path"],
                    "after_mtime": repair.after_mtime,
                    "bytes": after.size if after else None,
                    "sha256": after.sha256 if after else None,
                    "error": repair.error
                    or (None if after is None or after.health.ok else after.detail),
                    "health_after": after.health.value if after else None,
                }
            )
        return record


@dataclass(slots=True)
class ScanCounts:
    """What a scan did so far: files it read and decoded, verdicts it found in the memory."""

    targets: int = 0
    decoded: int = 0
    remembered: int = 0
    missing: int = 0
    by_health: dict[Health, int] = field(default_factory=dict)


class HealthScan:
    """One scan of some entries of a cache; iterate it for their records (remembered ones
    first, the others as their batches finish). `counts` tells what it did."""

    def __init__(
        self,
        cache_root: Path,
        state_dir: Path,
        entries: Sequence[ImageEntry],
        max_pixels: int,
        *,
        thorough: bool = False,
        fork: bool = False,
        processes: int | None = None,
        cancel: Cancellation | None = None,
        progress: ScanProgress | None = None,
    ) -> None:
        """`fork`: worker processes may be forked (only when the caller runs no thread that
        could hold a lock at the fork); `processes`: how many (default: one per core, at most
        4; 0: none, every file is read in the calling thread)."""
        self.root = cache_root
        self.memory = VerdictMemory(state_dir)
        self.entries = list(entries)
        self.max_pixels = max_pixels
        self.thorough = thorough
        self.fork = fork
        self.processes = worker_process_count() if processes is None else processes
        self.cancel = cancel or Cancellation()
        self.progress = progress
        self.counts = ScanCounts(targets=len(self.entries))

    def __iter__(self) -> Iterator[HealthRecord]:
        try:
            yield from self._scan()
        finally:
            self.memory.close()

    def _scan(self) -> Iterator[HealthRecord]:
        remembered = self.memory.recall()
        root = str(self.root)
        to_read: list[tuple[ImageEntry, str]] = []
        done = 0
        for entry in self.entries:
            file = os.path.join(root, entry.rel_path) if entry.rel_path else None
            verdict = self._known(entry, file, remembered)
            if verdict is None and file is not None:
                to_read.append((entry, file))
                continue
            done += 1
            yield self._record(entry, file, verdict or _no_file(), remembered=verdict is not None)
        self._report(done)
        if not to_read or self.cancel.is_set():
            return
        for batch in self._check(to_read):
            self.memory.remember(
                ((e.rel_path or "", v) for e, _, v in batch), self.max_pixels, self.thorough, _now()
            )
            for entry, file, verdict in batch:
                self.counts.decoded += verdict.size is not None
                done += 1
                yield self._record(entry, file, verdict)
            self._report(done)

    def _known(
        self, entry: ImageEntry, file: str | None, remembered: dict[str, Row]
    ) -> Verdict | None:
        """The verdict of a file that has one in the memory and has not changed since."""
        row = remembered.get(entry.rel_path or "")
        if row is None or file is None:
            return None
        try:
            found = os.stat(file)
        except OSError:
            return None  # classify_file says what is wrong
        if holds_for(row, found.st_size, found.st_mtime_ns, self.max_pixels, self.thorough):
            return verdict_of(row)
        return None

    def _record(
        self, entry: ImageEntry, file: str | None, verdict: Verdict, *, remembered: bool = False
    ) -> HealthRecord:
        counts = self.counts
        counts.remembered += remembered
        counts.missing += verdict.health is Health.MISSING
        counts.by_health[verdict.health] = counts.by_health.get(verdict.health, 0) + 1
        return HealthRecord(entry, file, verdict, remembered)

    def _report(self, done: int) -> None:
        if self.progress is not None:
            self.progress(done, self.counts.targets)

    def _check(
        self, files: list[tuple[ImageEntry, str]]
    ) -> Iterator[list[tuple[ImageEntry, str, Verdict]]]:
        """Batches of checked files, as they are done."""
        if len(files) < IN_PROCESS_MAX_FILES or self.processes < 1:
            for start in range(0, len(files), IN_PROCESS_MAX_FILES):
                if self.cancel.is_set():
                    return
                batch = files[start : start + IN_PROCESS_MAX_FILES]
                verdicts = check_batch([file for _, file in batch], self.max_pixels, self.thorough)
                yield [(e, f, v) for (e, f), v in zip(batch, verdicts, strict=True)]
            return
        workers = min(self.processes, math.ceil(len(files) / IN_PROCESS_MAX_FILES))
        size = max(1, min(BATCH_MAX_FILES, math.ceil(len(files) / (workers * BATCHES_PER_WORKER))))
        batches = [files[start : start + size] for start in range(0, len(files), size)]
        yield from self._in_workers(batches, workers)

    def _in_workers(
        self, batches: list[list[tuple[ImageEntry, str]]], workers: int
    ) -> Iterator[list[tuple[ImageEntry, str, Verdict]]]:
        method = "fork" if self.fork and "fork" in multiprocessing.get_all_start_methods() else None
        context = multiprocessing.get_context(method or "spawn")
        stop = context.Event()  # a worker looks at it before each file
        pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_worker_started, initargs=(stop, os.getpid())
        )
        pending: dict[Future[list[Verdict]], list[tuple[ImageEntry, str]]] = {}

        def stop_workers() -> None:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)

        unsubscribe = self.cancel.subscribe(stop_workers)
        completed = False
        try:
            for batch in batches:
                files = [file for _, file in batch]
                pending[pool.submit(check_batch, files, self.max_pixels, self.thorough)] = batch
            while pending and not self.cancel.is_set():
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    batch = pending.pop(future)
                    if future.cancelled():
                        continue
                    try:
                        verdicts = future.result()
                    except BrokenProcessPool:
                        # A decoder killed its worker: find the file, one at a time, apart.
                        verdicts = _checked_apart(
                            [file for _, file in batch], self.max_pixels, self.thorough
                        )
                    # A batch stopped by a cancel has the verdicts of its first files only.
                    yield [(e, p, v) for (e, p), v in zip(batch, verdicts, strict=False)]
            completed = not pending
        finally:
            unsubscribe()
            # Stopped early (a cancel, Ctrl+C, a consumer that left): the workers end after the
            # file each is reading, and are not waited for.
            if not completed:
                stop.set()
            pool.shutdown(wait=completed, cancel_futures=True)


def check_batch(paths: list[str], max_pixels: int, thorough: bool) -> list[Verdict]:
    """A worker's task: the verdicts of a batch of files (of its first ones, when the scan is
    stopped on the way)."""
    verdicts = []
    for path in paths:
        if _stop is not None and _stop.is_set():
            break
        verdicts.append(classify_file(Path(path), max_pixels, thorough=thorough))
    return verdicts


def _checked_apart(files: list[str], max_pixels: int, thorough: bool) -> list[Verdict]:
    """Files checked one at a time in a process of their own: a decoder that kills it names
    the file that did it (a new process goes on with the next)."""
    verdicts: list[Verdict] = []
    pool: ProcessPoolExecutor | None = None
    try:
        for file in files:
            if pool is None:
                context = multiprocessing.get_context("spawn")
                pool = ProcessPoolExecutor(1, mp_context=context, initializer=_worker_started)
            try:
                verdicts += pool.submit(check_batch, [file], max_pixels, thorough).result()
            except BrokenProcessPool:
                crashed = "reading this file made the image decoder crash"
                verdicts.append(Verdict(Health.NOT_AN_IMAGE, crashed))
                pool.shutdown(wait=False)
                pool = None
    finally:
        if pool is not None:
            pool.shutdown()
    return verdicts


_stop: EventType | None = None  # in a worker: the scan's stop


def _worker_started(stop: EventType | None = None, parent: int | None = None) -> None:
    global _stop  # noqa: PLW0603 - one per worker process, set once as it starts
    _stop = stop
    if parent is not None:
        _end_with(parent)
    # Ctrl+C is the parent's to handle: it lets the workers go. A forked worker's log handlers
    # are copies of the parent's that lead nowhere; validation's debug records are not needed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    logging.disable(logging.CRITICAL)


def _end_with(parent: int) -> None:
    """End this worker when the scanning process ends, however it ends (os._exit after a
    Ctrl+C, a kill): forked siblings hold each other's pipes open, so a worker would otherwise
    wait for its next batch forever. Linux tells a process when its parent dies."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the line above
        os._exit(0)


def _no_file() -> Verdict:
    return Verdict(Health.MISSING, "the cache knows this image but has no file name for it")


def _now() -> float:
    return time.time()


def repair(
    cache: ImageCache,
    records: Iterable[HealthRecord],
    *,
    cancel: Cancellation | None = None,
) -> Iterator[HealthRecord]:
    """Force-refresh every record's image that is broken and has a source URL (all the
    promises of a refresh: the old file stays unless a whole new one replaces it), then read
    the file again; other records pass through untouched. Yields records as they finish."""
    broken: dict[str, HealthRecord] = {}
    for record in records:
        if record.repairable:
            broken[record.entry.key] = record
        else:
            yield record
    if not broken:
        return
    memory = VerdictMemory(cache.storage.state_dir)
    max_pixels = cache.settings.max_pixels
    try:
        entries = [record.entry for record in broken.values()]
        for result in cache.refresh_many(entries, RefreshMode.FORCE, cancel=cancel):
            record = _record_for(broken, result)
            del broken[record.entry.key]
            path = result.path if result.action is not Action.FAILED else record.path
            after = classify_file(path, max_pixels) if path is not None else _no_file()
            rel_path = result.entry.rel_path if result.entry is not None else None
            if rel_path is not None and path is not None:
                memory.remember([(rel_path, after)], max_pixels, False, _now())
            yield HealthRecord(
                record.entry, record.file, record.verdict, record.remembered, result, after
            )
    finally:
        memory.close()
    yield from broken.values()  # not started before a cancel: untouched


def _record_for(broken: dict[str, HealthRecord], result: RefreshResult) -> HealthRecord:
    if result.entry is not None and result.entry.key in broken:
        return broken[result.entry.key]
    for record in broken.values():
        if record.entry.url == result.url:
            return record
    raise LookupError(f"a repair result for an image not asked for: {result.url}")
