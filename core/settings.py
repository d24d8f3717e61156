"""Tunable limits of a refresh run, with the defaults of the command-line contract."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "image-refresh"
CACHE_DIR_ENV = "IMAGE_REFRESH_CACHE_DIR"
DEFAULT_CATEGORY = "images"


@dataclass(frozen=True, slots=True)
class RefreshSettings:
    jobs: int = 8
    timeout: float = 30.0  # to connect, and between two bytes of an answer
    max_time: float = 300.0  # for the whole of one download, however steadily bytes trickle
    max_bytes: int = 52_428_800
    retries: int = 3
    backoff_factor: float = 0.5
    backoff_max: float = 30.0
    per_host_limit: int = 16
    max_redirects: int = 10
    # Pillow's own default; a larger picture is treated as a decompression bomb.
    max_pixels: int = 89_478_485
    chunk_size: int = 64 * 1024
    # The versions refreshes replaced, kept to revert to (core.versions): their total size;
    # past it the oldest are dropped first. 0 keeps none.
    kept_versions_bytes: int = 512 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise ValueError("jobs must be at least 1")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.max_time <= 0:
            raise ValueError("max-time must be positive")
        if self.max_bytes < 1:
            raise ValueError("max-bytes must be at least 1")
        if self.retries < 0:
            raise ValueError("retries must not be negative")
        if self.kept_versions_bytes < 0:
            raise ValueError("the size of the kept versions must not be negative")


def worker_process_count() -> int:
    """Worker processes for big batches and the window: one per core, at most 4 (~45 MB each)."""
    return max(1, min(os.cpu_count() or 1, 4))


def finishing_thread_count() -> int:
    """Threads beyond the download slots, for refreshes whose body has arrived and is being
    validated, flushed and installed: enough to keep every core busy with that work."""
    return 2 * (os.cpu_count() or 1)


def refreshes_in_flight(jobs: int) -> int:
    """Refreshes handed to an executor at a time: twice its threads (the download slots and the
    finishing threads), so none idles, and a cancel has few queued ones to drop."""
    return 2 * (jobs + finishing_thread_count())


def default_cache_dir() -> Path:
    """`IMAGE_REFRESH_CACHE_DIR`, else the platform's user cache folder."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "images"


def default_log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
