"""Where refreshes run: one interface, `submit(request) -> Future[RefreshResult]`, two backends.

`ThreadExecutor` runs refreshes on threads of this process; `core.worker_processes` has the
`ProcessExecutor`, which runs them in worker processes (each of which runs a ThreadExecutor).
A cache chooses its backend once, when it is opened. Either way the executor is the one place
where anything a refresh raises becomes a `failed` result with its reason: a future's result is
always a RefreshResult, never an exception.
"""

from __future__ import annotations

import abc
import enum
import logging
import stat
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from core.cancellation import Cancellation
from core.download_slots import DownloadSlots
from core.http_client import ProgressCallback
from core.manifest import ManifestError
from core.models import Action, FailureReason, RefreshRequest, RefreshResult
from core.refresh import Refresher
from core.secrets import redact, redact_text
from core.settings import finishing_thread_count

log = logging.getLogger(__name__)


class Backend(enum.Enum):
    THREADS = "threads"  # in this process: no start-up cost, one GIL for every refresh
    PROCESSES = "processes"  # in worker processes: every core, and the caller's GIL left alone
    # Worker processes forked from the caller: they start with its modules already imported
    # (a fresh one spends ~0.3 CPU-s importing them) but inherit its state. Only for a caller
    # whose other threads hold nothing a worker needs, as the command line's log writer, and
    # only where forking is safe (see `fork_is_safe`); never the window, whose Qt threads are not.
    FORKED_PROCESSES = "forked-processes"


def fork_is_safe() -> bool:
    """Whether this platform can fork workers: Linux. macOS lists `fork`, but its system
    frameworks are not safe in a forked child; Windows cannot fork."""
    return sys.platform.startswith("linux")


class RefreshExecutor(abc.ABC):
    """Runs refreshes of one cache, at most its download limit downloading at once."""

    @abc.abstractmethod
    def submit(
        self,
        request: RefreshRequest,
        cancel: Cancellation | None = None,
        progress: ProgressCallback | None = None,
    ) -> Future[RefreshResult]:
        """Start a refresh; its future's result is always a RefreshResult.

        `progress` is called on one of the executor's threads; `cancel` stops the refresh
        wherever it waits, and the result then says `cancelled`.
        """

    def start(self) -> None:  # noqa: B027 - a backend with nothing to start needs no override
        """Get ready now rather than at the first refresh."""

    @abc.abstractmethod
    def close(self) -> None:
        """Wait for the submitted refreshes (cancel them first to be quick), then stop."""


class ThreadExecutor(RefreshExecutor):
    """Refreshes on this process's threads: the download slots plus a few threads to check and
    install the bodies that have arrived (see core.download_slots)."""

    def __init__(self, refresher: Refresher, download_limit: int) -> None:
        self._refresher = refresher
        self._slots = DownloadSlots(download_limit)
        self._threads = ThreadPoolExecutor(
            download_limit + finishing_thread_count(), thread_name_prefix="refresh"
        )

    def submit(
        self,
        request: RefreshRequest,
        cancel: Cancellation | None = None,
        progress: ProgressCallback | None = None,
    ) -> Future[RefreshResult]:
        return self._threads.submit(self._run, request, cancel, progress)

    def close(self) -> None:
        self._threads.shutdown(wait=True)

    def _run(
        self,
        request: RefreshRequest,
        cancel: Cancellation | None,
        progress: ProgressCallback | None,
    ) -> RefreshResult:
        try:
            with self._slots.gate(cancel) as gate:
                return self._refresher.refresh(request, cancel=cancel, progress=progress, gate=gate)
        except ManifestError as error:  # a full disk, a locked or read-only manifest
            log.error("refresh of %s failed: %s", redact(request.key), error)
            return failed_result(
                request, self._refresher.storage.root, FailureReason.DISK, str(error)
            )
        except Exception as error:
            log.exception("refresh of %s failed unexpectedly", redact(request.key))
            return failed_result(
                request,
                self._refresher.storage.root,
                FailureReason.UNEXPECTED,
                f"unexpected error: {redact_text(str(error))}",
            )


def failed_result(
    request: RefreshRequest, cache_root: Path, reason: FailureReason, message: str
) -> RefreshResult:
    """The result of a refresh that ended in a bug or a lost worker: nothing was replaced, so
    the file's present state is its state before and after."""
    entry = request.entry
    path = entry.path_in(cache_root)
    try:
        found = path.stat() if path is not None else None
    except OSError:
        found = None
    kept = found if found is not None and stat.S_ISREG(found.st_mode) else None
    return RefreshResult(
        entry.url,
        entry.category,
        path,
        Action.FAILED,
        request.mode,
        before_mtime=kept.st_mtime if kept else None,
        after_mtime=kept.st_mtime if kept else None,
        before_size=kept.st_size if kept else None,
        after_size=kept.st_size if kept else None,
        error=message,
        reason=reason,
        entry=entry,
    )
