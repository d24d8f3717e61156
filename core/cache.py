"""ImageCache: the API the command line and the window share for one cache folder."""

from __future__ import annotations

import contextlib
import logging
import queue
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from core import naming
from core.cancellation import Cancellation
from core.executor import Backend, RefreshExecutor, ThreadExecutor
from core.health_scan import HealthScan, ScanProgress
from core.http_client import ProgressCallback, check_url
from core.manifest import Manifest, ManifestDamagedError
from core.models import HistoryEntry, ImageEntry, RefreshMode, RefreshRequest, RefreshResult
from core.naming import normalize_category
from core.refresh import Refresher
from core.scan import scan_adopted_folder, scan_cached_files
from core.secrets import redact
from core.settings import RefreshSettings, refreshes_in_flight, worker_process_count
from core.storage import CacheDirError, CacheStorage
from core.validation import IMAGE_EXTENSIONS
from core.variants import VariantRule, load_rules, save_rules, variants_of
from core.versions import VersionError
from core.worker_processes import ProcessExecutor

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AdoptSummary:
    images: int  # image files found (variants not counted)
    added: int  # of them, new since the last adopt
    removed: int  # entries whose file is gone and which had no source URL
    rules: list[VariantRule]


class ImageCache:
    """One cache folder: its manifest, its files and the refresher that updates them."""

    def __init__(
        self,
        root: Path,
        settings: RefreshSettings | None = None,
        *,
        backend: Backend = Backend.THREADS,
        niceness: int = 0,
        adopt: bool = False,
    ) -> None:
        """`backend`: where refreshes run (see core.executor), fixed while the cache is open, as
        is the download limit `settings.jobs`: new settings apply by opening it again.
        `niceness` lowers the worker processes' CPU priority below the caller's. `adopt` opens
        `root` as an adopted folder (see `adopt`), whose state lives in the user data folder."""
        self.settings = settings or RefreshSettings()
        self.storage = CacheStorage(root, adopted=True) if adopt else CacheStorage.for_folder(root)
        self.manifest = Manifest(self.storage.manifest_path)
        self.rebuilt: str | None = None  # what opening did to a missing or damaged manifest
        self._adopting = adopt  # then `adopt()` takes stock of the files, with its rules
        # the thread backend's; the process backend's workers make their own
        self._refresher = Refresher(self.storage, self.manifest, self.settings)
        self._backend = backend
        self._executor: RefreshExecutor = (
            ThreadExecutor(self._refresher, self.settings.jobs)
            if backend is Backend.THREADS
            else ProcessExecutor(
                self.root,
                self.settings,
                worker_process_count(),
                niceness,
                forked=backend is Backend.FORKED_PROCESSES,
            )
        )

    @property
    def root(self) -> Path:
        return self.storage.root

    def open(self) -> ImageCache:
        """Prepare the folder; rebuild a missing or damaged manifest from the files on disk.

        A damaged manifest is kept beside the new one for the user, never deleted; `rebuilt`
        then says what happened, once, for the caller to show.
        """
        if self._backend is Backend.FORKED_PROCESSES:
            self._executor.start()  # forked before this process opens the manifest
        try:
            self._open_folder()
        except BaseException:
            self._executor.close()  # its workers, when they started
            raise
        return self

    def _open_folder(self) -> None:
        self.storage.open()
        try:
            try:
                created = self.manifest.open()
            except ManifestDamagedError as error:
                kept = self.manifest.set_aside()
                self.rebuilt = f"{error}; it is kept as {kept.name}"
                created = self.manifest.open()
            if self.storage.adopted:
                self._refresher.variant_rules = load_rules(self.storage.state_dir)
            if created and not self._adopting:
                found = self._take_stock()
                if found:
                    self.rebuilt = (
                        f"{self.rebuilt or 'there was no manifest'}: rebuilt it from the"
                        f" {found} file(s) on disk; adding their URLs again takes them over"
                        " without downloading them"
                    )
            if self.rebuilt:
                log.warning("%s", self.rebuilt)
        except BaseException:
            self.storage.close()  # give back the temp session and its lock
            raise

    def adopt(self, rules: list[VariantRule] | None = None) -> AdoptSummary:
        """Make the adopted folder's entries the image files on it now (adopting again finds
        new files); `rules`, when given, replace the remembered variant rules."""
        if not self.storage.adopted:
            raise CacheDirError(f"{self.root} is a cache of its own, not an adopted folder")
        if rules is not None:
            save_rules(self.storage.state_dir, rules)
            self._refresher.variant_rules = rules
        found = scan_adopted_folder(self.storage, self._refresher.variant_rules)
        added, removed = self.manifest.sync_folder(found)
        return AdoptSummary(len(found), added, removed, self._refresher.variant_rules)

    @property
    def variant_rules(self) -> list[VariantRule]:
        """An adopted folder's variant rules, as they were when it was opened (none for a cache
        of our own); new rules apply by `adopt(rules)`, then opening the folder again."""
        return list(self._refresher.variant_rules)

    def variants_of(self, entry: ImageEntry) -> list[tuple[VariantRule, Path]]:
        """The derived sizes an image's refresh makes anew, by its rules (they may not exist)."""
        path = self.path_of(entry)
        return variants_of(path, self._refresher.variant_rules) if path is not None else []

    def _take_stock(self) -> int:
        """Rows for the files on disk, for a new or rebuilt manifest; how many were found."""
        if self.storage.adopted:
            return self.manifest.sync_folder(
                scan_adopted_folder(self.storage, self._refresher.variant_rules)
            )[0]
        return self.manifest.add_scanned_files(scan_cached_files(self.storage))

    def close(self) -> None:
        self._executor.close()
        self.manifest.close()
        self._refresher.safety.versions.close()
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
        category = normalize_category(category)
        candidates = {}
        for url in (url.strip() for url in urls):
            check_url(url)
            candidates[url] = [
                naming.relative_path(url, category, extension) for extension in IMAGE_EXTENSIONS
            ]
        return self.manifest.add_urls(candidates, category)

    def find(self, target: str) -> ImageEntry | None:
        """The entry for a URL, or for the path of a cached file (absolute or cache-relative)."""
        if "://" in target:
            return self.manifest.by_url(target)
        for candidate in (Path(target), self.root / target):
            rel_path = self.storage.relative(candidate)
            if rel_path is not None and (entry := self.manifest.by_path(rel_path)):
                return entry
        return None

    def scan_health(
        self,
        entries: Iterable[ImageEntry] | None = None,
        *,
        thorough: bool = False,
        fork: bool = False,
        processes: int | None = None,
        cancel: Cancellation | None = None,
        progress: ScanProgress | None = None,
    ) -> HealthScan:
        """A scan of the entries' files (every entry by default), read without a request;
        iterate it for their HealthRecords (see core.health_scan)."""
        return HealthScan(
            self.root,
            self.storage.state_dir,
            self.entries() if entries is None else list(entries),
            self.settings.max_pixels,
            thorough=thorough,
            fork=fork,
            processes=processes,
            cancel=cancel,
            progress=progress,
        )

    def path_of(self, entry: ImageEntry) -> Path | None:
        return entry.path_in(self.root)

    def history(self, entry: ImageEntry) -> list[HistoryEntry]:
        return self.manifest.history(entry)

    def set_source(self, rel_path: str, url: str, category: str) -> str | None:
        """Give the file at `rel_path` its source URL (checked by the caller); None, or why not.
        The image's key is its URL: its kept version moves with it, so Revert still finds it."""
        before = self.manifest.by_path(rel_path)  # none: never refreshed, nothing kept
        old_key = before.key if before is not None else url
        with contextlib.ExitStack() as locks:
            for key in sorted({old_key, url}):  # in one order: two calls never wait on each other
                locks.enter_context(self.storage.image_lock(key))
            problem = self.manifest.set_source(rel_path, url, category)
            if problem is None and old_key != url:
                try:
                    self._refresher.safety.versions.move(old_key, url)
                except VersionError as error:  # the URL is set; only Revert is affected
                    log.error(
                        "the kept version of %s did not follow its new URL: %s", rel_path, error
                    )
        return problem

    def remove(self, entry: ImageEntry) -> None:
        """Forget an image and delete its cached file."""
        with self.storage.image_lock(entry.key):
            path = self.path_of(entry)
            if path is not None:
                path.unlink(missing_ok=True)
            self.manifest.remove(entry)
        log.info("removed %s from the cache", redact(entry.url) or entry.rel_path)

    def start(self) -> None:
        """Get the refreshes' backend ready now (start the worker processes) rather than at the
        first refresh."""
        self._executor.start()

    def worker_pids(self) -> list[int]:
        """The worker processes running refreshes (none with the thread backend)."""
        return self._executor.worker_pids() if isinstance(self._executor, ProcessExecutor) else []

    def submit(
        self,
        request: RefreshRequest,
        *,
        cancel: Cancellation | None = None,
        progress: ProgressCallback | None = None,
    ) -> Future[RefreshResult]:
        """Start one refresh on the cache's backend; the future's result is always a result."""
        return self._executor.submit(request, cancel, progress)

    def refresh(
        self,
        entry: ImageEntry,
        mode: RefreshMode = RefreshMode.MISSING,
        *,
        thumbnail_edge: int | None = None,
        cancel: Cancellation | None = None,
        progress: ProgressCallback | None = None,
        allow_placeholder: bool = False,
    ) -> RefreshResult:
        """Refresh one image and wait for its result."""
        request = RefreshRequest(entry, mode, thumbnail_edge, allow_placeholder)
        return self.submit(request, cancel=cancel, progress=progress).result()

    def refresh_many(
        self,
        entries: Iterable[ImageEntry],
        mode: RefreshMode,
        *,
        cancel: Cancellation | None = None,
        allow_placeholder: bool = False,
    ) -> Iterator[RefreshResult]:
        """Refresh entries concurrently, as many downloads at once as the cache's download
        limit; yield the results as they finish.

        A bounded number of refreshes is submitted at a time, so memory does not grow with the
        number of targets. After `cancel` (or when the consumer stops early) the rest are not
        started and the running ones stop wherever they wait.
        """
        stop = cancel or Cancellation()
        requests = (
            RefreshRequest(entry, mode, allow_placeholder=allow_placeholder) for entry in entries
        )
        in_flight = refreshes_in_flight(self.settings.jobs)
        # Each future puts itself here when done: no wait() that watches every running one.
        finished: queue.SimpleQueue[Future[RefreshResult]] = queue.SimpleQueue()
        running = 0
        try:
            while True:
                while running < in_flight and not stop.is_set():
                    request = next(requests, None)
                    if request is None:
                        break
                    self.submit(request, cancel=stop).add_done_callback(finished.put)
                    running += 1
                if not running:
                    return
                future = finished.get()
                running -= 1
                yield future.result()
        finally:
            if running:
                stop.set()
