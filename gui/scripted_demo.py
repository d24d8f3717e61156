"""Drives the window through a force refresh by itself and saves screenshots (headless runs)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QRect, QTimer, Signal

from core.timestamps import format_mtime
from gui.main_window import MainWindow
from gui.rows import RowState

POLL_MS = 100
TIMEOUT_MS = 120_000
# The screen the shots are framed for: a 1366 x 768 laptop, the window at its first-run size.
SCREEN = QRect(0, 0, 1366, 768)


class ScriptedDemo(QObject):
    """Waits for the images, force-refreshes them all, prints before/after and saves PNGs."""

    finished = Signal(int)  # exit status

    def __init__(self, window: MainWindow, screenshot: Path, expected: int) -> None:
        super().__init__(window)
        self.window = window
        self.screenshot = screenshot
        self.expected = expected
        self.saved: list[Path] = []
        self._step = self._wait_for_downloads
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._tick)
        self._elapsed = 0

    def start(self) -> None:
        self.window.set_first_run_geometry(SCREEN)  # the same framing on every screen
        self._timer.start()

    def _tick(self) -> None:
        self._elapsed += POLL_MS
        if self._elapsed > TIMEOUT_MS:
            print("The demo did not finish in time.")
            self._finish(1)
            return
        self._step()

    def _settled(self) -> bool:
        return self.window.is_idle() and self.window.model.rowCount() >= self.expected

    def _wait_for_downloads(self) -> None:
        rows = self.window.model.rows()
        if self._settled() and all(row.file is not None for row in rows):
            self.window.table.setFocus()
            self.window.table.selectRow(0)
            self._step = self._before_screenshot

    def _before_screenshot(self) -> None:
        if self.window.is_idle():
            self._save("before")
            self.window.commands.select_all.trigger()
            self.window.commands.force_refresh.trigger()
            self._step = self._wait_for_refresh

    def _wait_for_refresh(self) -> None:
        rows = self.window.model.rows()
        if self.window.is_idle() and all(
            row.state in (RowState.DONE, RowState.FAILED) for row in rows
        ):
            self._step = self._after_screenshots

    def _after_screenshots(self) -> None:
        if not self.window.is_idle():
            return
        self._save("after")
        self.window.set_view("grid")
        self._step = self._grid_screenshot

    def _grid_screenshot(self) -> None:
        if not self.window.is_idle():
            return
        self._save("after-grid")
        self.window.set_view("table")
        failed = 0
        print(f"{'image':<48} {'before (mtime)':<23}    {'after (mtime)':<23} result")
        for row in sorted(self.window.model.rows(), key=lambda r: (r.entry.category, r.name)):
            result = row.result
            if result is None:
                continue
            failed += not result.ok
            image = f"{row.entry.category}/{row.name}"
            before, after = format_mtime(result.before_mtime), format_mtime(result.after_mtime)
            error = f": {result.error}" if result.error else ""
            print(f"{image:<48} {before:<23} → {after:<23} {result.action.value}{error}")
        for path in self.saved:
            print(f"screenshot: {path}")
        self._finish(1 if failed else 0)

    def _save(self, label: str) -> None:
        path = self.screenshot.with_name(
            f"{self.screenshot.stem}-{label}{self.screenshot.suffix or '.png'}"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        self.window.grab().save(str(path))
        self.saved.append(path)

    def _finish(self, status: int) -> None:
        self._timer.stop()
        self.finished.emit(status)
