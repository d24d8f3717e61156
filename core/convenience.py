"""One-call helpers for scripts, named after the categories the site scrapes."""

from __future__ import annotations

from pathlib import Path

from core.cache import ImageCache
from core.models import FailureReason, RefreshError, RefreshMode
from core.settings import default_cache_dir


def download_image(
    url: str, category: str, force_refresh: bool = False, *, cache_dir: Path | None = None
) -> Path:
    """Return the cached file for `url`, downloading it if missing or if `force_refresh`.

    Raises RefreshError if the download fails; a previously cached file is then kept as it was.
    """
    with ImageCache(cache_dir or default_cache_dir()) as cache:
        (entry,) = cache.add_urls([url], category)
        result = cache.refresh(entry, RefreshMode.from_flags(force_refresh))
    if not result.ok or result.path is None:
        raise RefreshError(
            result.reason or FailureReason.NETWORK, result.error or "download failed"
        )
    return result.path


def download_event_hero_image(
    url: str, force_refresh: bool = False, *, cache_dir: Path | None = None
) -> Path:
    return download_image(url, "events", force_refresh, cache_dir=cache_dir)


def download_performer_image(
    url: str, force_refresh: bool = False, *, cache_dir: Path | None = None
) -> Path:
    return download_image(url, "performers", force_refresh, cache_dir=cache_dir)
