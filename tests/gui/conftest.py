"""Fixtures of the window tests: a MainWindow on a cache downloaded from the loopback server,
per-test QSettings, and a check that no test leaves a thread pool busy.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QThreadPool
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.cache import ImageCache
from core.models import RefreshMode
from core.settings import RefreshSettings
from gui.main_window import MainWindow
from tests.gui.helpers import OpenedWindow, WindowFactory
from tests.gui.xserver import XSession, x_session
from tests.server import LoopbackServer, Responder, image, jpeg_bytes

IDLE_GRACE_MS = 5_000
OPEN_TIMEOUT_MS = 10_000
AGE_SECONDS = 3_600.0


_closed: weakref.WeakSet[MainWindow] = weakref.WeakSet()  # windows an earlier test closed


def _busy(windows: list[MainWindow]) -> list[str]:
    busy = []
    if QThreadPool.globalInstance().activeThreadCount():
        busy.append("QThreadPool.globalInstance()")
    for number, window in enumerate(windows):
        if not window.is_idle():  # refreshes, thumbnails or background calls not reported
            busy.append(f"window {number}: work not reported")
    return busy


@pytest.fixture(autouse=True)
def _private_qsettings(tmp_path: Path) -> None:
    """Qt reads the XDG config folder once per process: point QSettings at this test's folder."""
    folder = str(tmp_path / "qsettings")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, folder)


@pytest.fixture(autouse=True)
def tracked_windows(qtbot: QtBot) -> Iterator[list[MainWindow]]:
    """Fail a test that leaves a thread pool busy (after a short grace for in-flight work).

    Windows from `open_window`, and any other MainWindow the test made, are checked, closed
    (closeEvent cancels and waits for the workers), and checked again: closing must drain them.
    """
    windows: list[MainWindow] = []
    yield windows
    windows += [
        widget
        for widget in QApplication.topLevelWidgets()
        if isinstance(widget, MainWindow) and widget not in windows and widget not in _closed
    ]
    with contextlib.suppress(qtbot.TimeoutError):
        qtbot.waitUntil(lambda: not _busy(windows), timeout=IDLE_GRACE_MS)
    busy = _busy(windows)
    for window in windows:
        window.close()
        _closed.add(window)
    # Reports of jobs cancelled by the close are dropped with the window: check the pools only.
    busy_after_close = [name for name in _busy(windows) if "jobs not reported" not in name]
    for window in windows:
        window.deleteLater()
    QThreadPool.globalInstance().waitForDone(IDLE_GRACE_MS)
    if busy or busy_after_close:
        pytest.fail(
            f"thread pools busy at the end of the test: {busy}; after close: {busy_after_close}"
        )


@pytest.fixture
def open_window(
    qtbot: QtBot,
    server: LoopbackServer,
    cache_dir: Path,
    fast_settings: RefreshSettings,
    tracked_windows: list[MainWindow],
) -> WindowFactory:
    """Download images from the loopback server into a cache, then open a window on it.

    `images`: URL path -> responder (the category is the path's first segment), or a count
    of plain JPEGs in `events`. Files are dated an hour back so any refresh shows a newer mtime.
    """

    def build(images: Mapping[str, Responder] | int = 3) -> OpenedWindow:
        if isinstance(images, int):
            images = {
                f"/events/image-{i}.jpg": image(jpeg_bytes((40 * i % 256, 90, 200)), etag=f'"{i}"')
                for i in range(images)
            }
        urls: list[str] = []
        paths: dict[str, Path] = {}
        with ImageCache(cache_dir, fast_settings) as cache:
            for path, responder in images.items():
                url = server.route(path, responder)
                (entry,) = cache.add_urls([url], path.strip("/").split("/")[0])
                result = cache.refresh(entry, RefreshMode.MISSING)
                assert result.ok and result.path is not None, result.error
                old = time.time() - AGE_SECONDS
                os.utime(result.path, (old, old))
                urls.append(url)
                paths[url] = result.path
        window = MainWindow()
        tracked_windows.append(window)
        with qtbot.waitSignal(window.cache_opened, timeout=OPEN_TIMEOUT_MS):
            window.open_cache(cache_dir)
        assert window.model.rowCount() == len(urls)
        return OpenedWindow(window, cache_dir, urls, paths)

    return build


@pytest.fixture
def x_server(qtbot: QtBot, tmp_path: Path) -> Iterator[XSession]:
    """Xvfb at 1366 x 768 with a window manager, and private HOME, XDG folders and TMPDIR for
    the programs run on it. Screenshots the test saved are copied to $SCREENSHOTS_DIR if set
    (`make screenshots` refreshes docs/ that way)."""
    with x_session(qtbot.waitUntil, tmp_path / "x-server") as session:
        yield session
    target = os.environ.get("SCREENSHOTS_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for shot in session.saved:
            shutil.copy(shot, Path(target) / f"screenshot-{shot.name}")
