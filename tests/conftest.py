from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings

from core.cache import ImageCache
from core.settings import RefreshSettings
from tests.server import LoopbackServer, serve


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep logs, settings and the default cache of every test inside its tmp_path."""
    for variable in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / "user" / variable.lower()))
    monkeypatch.setenv("IMAGE_REFRESH_CACHE_DIR", str(tmp_path / "default-cache"))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _private_qsettings(tmp_path: Path) -> None:
    """Qt reads the XDG config folder once per process: point QSettings at this test's folder."""
    folder = str(tmp_path / "qsettings")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, folder)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    yield from serve(LoopbackServer("127.0.0.1", 0))


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def fast_settings() -> RefreshSettings:
    """Short timeouts and backoff so failure tests finish quickly."""
    return RefreshSettings(timeout=2.0, retries=2, backoff_factor=0.01, backoff_max=0.1)


@pytest.fixture
def cache(cache_dir: Path, fast_settings: RefreshSettings) -> Iterator[ImageCache]:
    with ImageCache(cache_dir, fast_settings) as opened:
        yield opened


@pytest.fixture(params=["in-process", "in-a-worker-process"])
def make_cache(
    request: pytest.FixtureRequest, cache_dir: Path, fast_settings: RefreshSettings
) -> Iterator[Callable[..., ImageCache]]:
    """Every promise holds whether the refresh runs in the caller or in a worker process."""
    opened: list[ImageCache] = []

    def make(**overrides: Any) -> ImageCache:
        cache = ImageCache(cache_dir, dataclasses.replace(fast_settings, **overrides)).open()
        if request.param == "in-a-worker-process":
            cache.use_worker_processes(1)
        opened.append(cache)
        return cache

    yield make
    for cache in opened:
        cache.close()


@pytest.fixture
def core_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="core")
    return caplog
