"""Helpers of the window tests (the fixtures are in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pytestqt.qtbot import QtBot

from gui.main_window import MainWindow
from gui.rows import ImageRow


@dataclass(frozen=True)
class OpenedWindow:
    window: MainWindow
    cache_dir: Path
    urls: list[str]
    paths: dict[str, Path]  # URL -> cached file, as downloaded before the window opened

    def row(self, url: str) -> ImageRow:
        row = self.window.model.row_for_key(url)
        assert row is not None, f"no row for {url}"
        return row

    def snapshot(self) -> dict[str, tuple[float, bytes]]:
        """URL -> (mtime, bytes) of every cached file as it is on disk now."""
        return {url: (path.stat().st_mtime, path.read_bytes()) for url, path in self.paths.items()}


WindowFactory = Callable[..., OpenedWindow]


def show_active(qtbot: QtBot, window: MainWindow) -> None:
    """Shortcuts fire only on an active window, also under the offscreen platform."""
    with qtbot.waitActive(window):
        window.show()
    window.table.setFocus()


def temporaries(cache_dir: Path) -> list[Path]:
    return list(cache_dir.rglob("*.part"))
