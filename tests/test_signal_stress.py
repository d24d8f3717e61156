"""Tens of thousands of cross-thread signal emits and Qt calls returning None or a bool.

Why this test exists: PySide6 6.12.0 on CPython 3.11 drops a reference to `True` on every
Signal.emit and one to `None` on every Qt method that returns nothing; after a few thousand calls
the interpreter aborts ("Fatal Python error: bool_dealloc" / "none_dealloc" - a thumbnail loop
died after about 5,500 images). pyproject pins PySide6-Essentials <6.12; this test checks the
next upgrade before a user meets the abort. A small probe first measures the reference counts,
so an affected build fails here with a readable message instead of killing the test run.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from core.models import Action, RefreshResult
from gui.refresh_jobs import RefreshSignals

EMITS = 20_000
CALLS = 5_000
PROBE = 300
RESULT = RefreshResult(
    "http://127.0.0.1/a.jpg", "events", Path("/cache/events/a.jpg"), Action.REFRESHED, True
)


class Flags(QObject):
    toggled = Signal(bool)


class Receiver(QObject):
    """Lives on the GUI thread; counts what arrives and notes any slot run on another thread."""

    def __init__(self) -> None:
        super().__init__()
        self.progress: list[int] = []
        self.finished = 0
        self.flags = [0, 0]  # False, True
        self.wrong_thread = 0

    def _check_thread(self) -> None:
        self.wrong_thread += threading.current_thread() is not threading.main_thread()

    @Slot(str, int)
    def on_progress(self, key: str, received: int) -> None:
        self._check_thread()
        self.progress.append(received)

    @Slot(str, object)
    def on_finished(self, key: str, result: object) -> None:
        self._check_thread()
        self.finished += result is RESULT

    @Slot(bool)
    def on_flag(self, value: bool) -> None:
        self._check_thread()
        self.flags[value] += 1

    def received(self) -> int:
        return len(self.progress) + self.finished + sum(self.flags)


def wired() -> tuple[RefreshSignals, Flags, Receiver]:
    signals, flags, receiver = RefreshSignals(), Flags(), Receiver()
    signals.progress.connect(receiver.on_progress)
    signals.finished.connect(receiver.on_finished)
    flags.toggled.connect(receiver.on_flag)
    return signals, flags, receiver


def emit_all(signals: RefreshSignals, flags: Flags, count: int) -> None:
    for number in range(count):
        signals.progress.emit("key", number)
        signals.finished.emit("key", RESULT)
        flags.toggled.emit(number % 2 == 1)


def call_qt(count: int) -> None:
    """Qt methods that return None (and some that return a bool), as a thumbnail loop calls them."""
    timer, picture, colour = QTimer(), QImage(4, 4, QImage.Format.Format_RGB32), QColor(9, 9, 9)
    for number in range(count):
        timer.setInterval(number)  # None
        picture.fill(colour)  # None
        timer.setObjectName("t")  # None
        timer.blockSignals(False)  # bool
        picture.isNull()  # bool


def assert_references_kept() -> None:
    """Fail (instead of aborting the whole run later) on a build that loses references."""
    signals, flags, receiver = wired()
    true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
    emit_all(signals, flags, PROBE)  # same thread: direct calls
    call_qt(PROBE)
    lost_true = true_before - sys.getrefcount(True)
    lost_none = none_before - sys.getrefcount(None)

    assert receiver.received() == 3 * PROBE
    assert lost_true < PROBE // 2, f"{lost_true} references to True lost in {3 * PROBE} emits"
    assert lost_none < PROBE // 2, f"{lost_none} references to None lost in {PROBE} calls"


def test_reference_counts_of_true_and_none_survive_emits_and_calls() -> None:
    assert_references_kept()


def test_many_signals_from_a_worker_thread_all_arrive_on_the_gui_thread(qtbot: QtBot) -> None:
    assert_references_kept()  # an affected build would abort the process in the loop below
    signals, flags, receiver = wired()
    true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
    worker = threading.Thread(target=emit_all, args=(signals, flags, EMITS))
    worker.start()
    call_qt(CALLS)  # meanwhile, on the GUI thread
    worker.join()
    qtbot.waitUntil(lambda: receiver.received() == 3 * EMITS, timeout=60_000)

    assert receiver.progress == list(range(EMITS))  # all of them, in order
    assert receiver.finished == EMITS
    assert receiver.flags == [EMITS // 2, EMITS // 2]
    assert receiver.wrong_thread == 0
    assert true_before - sys.getrefcount(True) < 1000
    assert none_before - sys.getrefcount(None) < 1000
