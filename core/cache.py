"""ImageCache: the API the command line and the window share for one cache folder."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Unpack

from core.batch import refresh_concurrently
from core.download_slots import DownloadSlots
from core.http_client import check_url
from core.manifest import Manifest
from core.models import Action, FailureReason, HistoryEntry, ImageEntry, RefreshResult
from core.naming import normalize_category
from core.refresh import Refresher, RefreshOptions
from core.scan import scan_cached_files
from core.settings import DEFAULT_CATEGORY, RefreshSettings, finishing_thread_count
from core.storage import CacheStorage
from core.worker_processes import WorkerPool, WorkerStoppedError

log = logging.getLogger(__name__)


class ImageCache:
    """One cache folder: its manifest, its files and the refresher that updates them."""

    def __init__(self, root: Path, settings: RefreshSettings | None = None) -> None:
        self.settings = settings or RefreshSettings()
        self.storage = CacheStorage(root)
        self.manifest = Manifest(self.storage.manifest_path)
        # Refreshes in this process, with no download slot: refresh_key wraps it in the cache's
        # slots; the benchmark's one-by-one floor calls it bare.
        self.refresher = Refresher(self.storage, self.manifest, self.settings)
        self._download_slots = DownloadSlots(self.settings.jobs)
        self._workers: WorkerPool | None = None

    @property
    def root(self) -> Path:
        return self.storage.root

    def open(self) -> ImageCache:
        """Prepare the folder; rebuild a missing manifest from the files on disk."""
        self.storage.open()
        try:
            if self.manifest.open():
                found = self.manifest.add_scanned_files(scan_cached_files(self.storage))
                if found:
                    log.info(
                        "rebuilt the manifest: %d file(s) found on disk, with no known URL", found
                    )
        except BaseException:
            self.storage.close()  # give back the temp session and its lock
            raise
        return self

    def close(self) -> None:
        if self._workers is not None:
            self._workers.close()
            self._workers = None
        self.manifest.close()
        self.storage.close()

    def __enter__(self) -> ImageCache:
        return self.open()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def entries(self, category: str | None = None) -> list[ImageEntry]:
        return self.manifest.entries(normalize_category(category) if category else None)

    def add_urls(self, urls: Iterable[str], category: str) -> list[ImageEntry]:
        """Record URLs in the manifest under a category; raise RefreshError for a bad URL."""
        urls = [url.strip() for url in urls]
        for url in urls:
            check_url(url)
        return self.manifest.add_urls(urls, normalize_category(category))

    def find(self, target: str) -> ImageEntry | None:
        """The entry for a URL, or for the path of a cached file (absolute or cache-relative)."""
        if "://" in target:
            return self.manifest.by_url(target)
        for candidate in (Path(target), self.root / target):
            rel_path = self.storage.relative(candidate)
            if rel_path is not None and (entry := self.manifest.by_path(rel_path)):
                return entry
        return None

    def path_of(self, entry: ImageEntry) -> Path | None:
        return entry.path_in(self.root)

    def history(self, entry: ImageEntry) -> list[HistoryEntry]:
        return self.manifest.history(entry)

    def remove(self, entry: ImageEntry) -> None:
        """Forget an image and delete its cached file."""
        with self.storage.image_lock(entry.key):
            path = self.path_of(entry)
            if path is not None:
                path.unlink(missing_ok=True)
            self.manifest.remove(entry)
        log.info("removed %s from the cache", entry.url or entry.rel_path)

    def use_worker_processes(self, count: int, niceness: int = 0) -> None:
        """Start `count` worker processes and run every refresh in them from now on.

        Worth it for batches and behind the window: each refresh then takes none of the
        caller's GIL, and the batch uses every core (see core.worker_processes). `niceness`
        lowers the workers' CPU priority below the caller's.
        """
        if self._workers is None:
            self._workers = WorkerPool(
                self.storage.root, self.settings, count, niceness, self._download_slots.limit
            )
        self._workers.start()

    def set_download_limit(self, jobs: int) -> None:
        """Downloads at once from now on (`settings.jobs` until changed): the window's setting."""
        self._download_slots.set_limit(jobs)
        if self._workers is not None:
            self._workers.set_download_limit(jobs)

    def refresh(self, entry: ImageEntry, **options: Unpack[RefreshOptions]) -> RefreshResult:
        """Refresh one image: see `refresh_key`."""
        return self.refresh_key(entry.key, **options)

    def refresh_key(self, key: str, **options: Unpack[RefreshOptions]) -> RefreshResult:
        """Refresh the image with this manifest key, in a worker process if there are any.

        The options are those of `Refresher.refresh`. The refresh takes one of the cache's
        download slots (in a worker, one of that worker's share) only for its request (see
        core.download_slots), so callers may run more threads than slots.
        """
        cancel = options.get("cancel")
        # Already cancelled: answered here at once, with no worker and no request.
        if self._workers is not None and not (cancel is not None and cancel.is_set()):
            try:
                return self._workers.refresh(key, **options)  # the workers hold the slots
            except WorkerStoppedError as error:
                return self.unexpected_failure(key, options["force_refresh"], error)
        with self._download_slots.gate(cancel) as gate:
            return self.refresher.refresh(key, gate=gate, **options)

    def unexpected_failure(
        self, key: str, force_refresh: bool, error: Exception, entry: ImageEntry | None = None
    ) -> RefreshResult:
        """The result of a refresh that ended in a bug or a lost worker: nothing was replaced."""
        if entry is None:
            try:
                entry = self.manifest.by_key(key)
            except Exception:  # the manifest may be what failed
                log.exception("cannot read the manifest entry of %s", key)
        return RefreshResult(
            entry.url if entry else None,
            entry.category if entry else DEFAULT_CATEGORY,
            self.path_of(entry) if entry else None,
            Action.FAILED,
            force_refresh,
            error=f"unexpected error: {error}",
            reason=FailureReason.UNEXPECTED,
        )

    def refresh_many(
        self,
        entries: Iterable[ImageEntry],
        *,
        force_refresh: bool,
        check_for_updates: bool = False,
        cancel: threading.Event | None = None,
    ) -> Iterator[RefreshResult]:
        """Refresh entries concurrently, as many downloads at once as the cache's download
        limit; yield the results as they finish."""
        stop = cancel or threading.Event()

        def refresh_one(key: str) -> RefreshResult:
            return self.refresh_key(
                key, force_refresh=force_refresh, check_for_updates=check_for_updates, cancel=stop
            )

        return refresh_concurrently(
            refresh_one,
            (e.key for e in entries),
            threads=self._download_slots.limit + finishing_thread_count(),
            cancel=stop,
        )
