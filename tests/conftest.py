from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.cache import ImageCache
from core.executor import Backend, fork_is_safe
from core.settings import RefreshSettings
from tests.server import LoopbackServer, serve


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep logs, settings and the default cache of every test inside its tmp_path."""
    for variable in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / "user" / variable.lower()))
    monkeypatch.setenv("IMAGE_REFRESH_CACHE_DIR", str(tmp_path / "default-cache"))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")


class _UnexpectedWarnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def logfail(request: pytest.FixtureRequest) -> Iterator[None]:
    """A WARNING record a test did not expect fails it (as qutebrowser's logfail does).

    A test expects warnings when it reads the log (`caplog`, `core_log`) or is marked
    `warnings_expected`.
    """
    expected = request.node.get_closest_marker("warnings_expected") is not None or bool(
        {"caplog", "core_log"} & set(request.fixturenames)
    )
    handler = _UnexpectedWarnings()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
    if handler.records and not expected:
        lines = "\n".join(f"{r.levelname} {r.name}: {r.getMessage()}" for r in handler.records)
        pytest.fail(f"unexpected WARNING records:\n{lines}", pytrace=False)


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


BACKENDS = [Backend.THREADS, Backend.PROCESSES] + (
    [Backend.FORKED_PROCESSES] if fork_is_safe() else []
)


@pytest.fixture(params=BACKENDS, ids=lambda backend: backend.value)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Every promise holds whichever backend runs the refreshes."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def make_cache(
    backend: Backend, cache_dir: Path, fast_settings: RefreshSettings
) -> Iterator[Callable[..., ImageCache]]:
    """Opens the test's cache on each backend, with settings changed as asked."""
    opened: list[ImageCache] = []

    def make(**overrides: Any) -> ImageCache:
        settings = dataclasses.replace(fast_settings, **overrides)
        cache = ImageCache(cache_dir, settings, backend=backend).open()
        opened.append(cache)
        return cache

    yield make
    for cache in opened:
        cache.close()


@pytest.fixture
def core_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="core")
    return caplog
