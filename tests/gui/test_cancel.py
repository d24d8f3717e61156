"""Esc cancels a batch whose downloads stall mid-body: at once, and every file stays as it was."""

from __future__ import annotations

import io
import random
import threading
import time

from PIL import Image
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.models import Action
from gui.rows import RowState
from tests.gui.helpers import OpenedWindow, WindowFactory, show_active, temporaries
from tests.server import image, jpeg_bytes, sequence, stall

STALL_SECONDS = 6.0  # far shorter than the window's 30 s timeout, far longer than a cancel
CANCELLED_WITHIN_MS = 2_000
IMAGES = 4


def noisy_jpeg(seed: int) -> bytes:
    """A JPEG of some 40 KB, so the stall after the first kilobyte is mid-body."""
    pixels = random.Random(seed).randbytes(160 * 160 * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (160, 160), pixels).save(out, "JPEG", quality=95)
    return out.getvalue()


def stalling_window(open_window: WindowFactory) -> tuple[OpenedWindow, list[threading.Event]]:
    """Images that download fine once, then stall after 1000 bytes on every later request."""
    stalled = [threading.Event() for _ in range(IMAGES)]
    opened = open_window(
        {
            f"/events/slow-{i}.jpg": sequence(
                image(jpeg_bytes((50 * i, 100, 100))),
                stall(noisy_jpeg(i), after=1000, seconds=STALL_SECONDS, started=stalled[i]),
            )
            for i in range(IMAGES)
        }
    )
    return opened, stalled


def test_escape_cancels_a_stalled_batch_and_keeps_every_file(
    qtbot: QtBot, open_window: WindowFactory
) -> None:
    opened, stalled = stalling_window(open_window)
    window = opened.window
    before = opened.snapshot()
    show_active(qtbot, window)
    qtbot.keyClick(window.table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(
        window.table,
        Qt.Key.Key_R,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    qtbot.waitUntil(lambda: all(event.is_set() for event in stalled), timeout=10_000)
    assert window.controller.is_running()
    assert window.commands.cancel.isEnabled()

    with qtbot.waitSignal(window.controller.batch_finished, timeout=CANCELLED_WITHIN_MS) as done:
        qtbot.keyClick(window.table, Qt.Key.Key_Escape)

    batch = done.args[0]
    assert (batch.total, batch.cancelled, batch.failed) == (IMAGES, IMAGES, 0)
    for url in opened.urls:
        row = opened.row(url)
        assert row.state is RowState.CANCELLED
        assert row.result is not None and row.result.action is Action.CANCELLED
        assert row.file is not None and row.file.mtime == before[url][0]
    assert opened.snapshot() == before  # byte-identical, old mtimes
    assert temporaries(opened.cache_dir) == []
    assert not window.commands.cancel.isEnabled()


def test_closing_the_window_during_a_stalled_batch_returns_at_once(
    qtbot: QtBot, open_window: WindowFactory
) -> None:
    opened, stalled = stalling_window(open_window)
    window = opened.window
    before = opened.snapshot()
    window.refresh_entries([opened.row(url).entry for url in opened.urls], force_refresh=True)
    qtbot.waitUntil(lambda: all(event.is_set() for event in stalled), timeout=10_000)

    started = time.monotonic()
    window.close()  # cancels and waits for the workers

    assert time.monotonic() - started < CANCELLED_WITHIN_MS / 1000
    assert opened.snapshot() == before
    assert temporaries(opened.cache_dir) == []
