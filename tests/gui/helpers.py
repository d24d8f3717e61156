"""Helpers of the window tests (the fixtures are in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget
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


Dialog = TypeVar("Dialog", bound=QWidget)
DIALOG_POLL_MS = 10
DIALOG_TRIES = 500


def answer_modal(kind: type[Dialog], answer: Callable[[Dialog], None]) -> list[Dialog]:
    """Wait (from the event loop) for a modal dialog of `kind`, then answer it; the dialogs
    seen are listed (call this before the action that opens the dialog)."""
    seen: list[Dialog] = []
    tries = [0]

    def look() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, kind):
            seen.append(dialog)
            answer(dialog)
        elif tries[0] < DIALOG_TRIES:
            tries[0] += 1
            QTimer.singleShot(DIALOG_POLL_MS, look)

    QTimer.singleShot(0, look)
    return seen
