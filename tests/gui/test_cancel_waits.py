"""Esc reaches every wait of a download in the window too: a server that never answers, or one
that asks to come back later, is left at once, and every file stays as it was."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.models import Action
from tests.gui.helpers import WindowFactory, show_active, temporaries
from tests.server import (
    LoopbackServer,
    Responder,
    image,
    jpeg_bytes,
    sequence,
    silent,
    too_many_requests,
)

CANCELLED_WITHIN_MS = 1_000
WAITS: dict[str, Responder] = {
    "for the headers": silent(20),
    "in a retry pause": too_many_requests("20"),
}


@pytest.mark.parametrize("wait", list(WAITS))
def test_escape_ends_a_download_wherever_it_waits(
    wait: str, qtbot: QtBot, open_window: WindowFactory, server: LoopbackServer
) -> None:
    opened = open_window({"/events/stuck.jpg": sequence(image(jpeg_bytes()), WAITS[wait])})
    window = opened.window
    before = opened.snapshot()
    show_active(qtbot, window)
    server.seen.clear()
    window.refresh_entries([opened.row(url).entry for url in opened.urls], force_refresh=True)
    qtbot.waitUntil(lambda: len(server.seen) == 1, timeout=10_000)

    with qtbot.waitSignal(window.controller.batch_finished, timeout=CANCELLED_WITHIN_MS):
        qtbot.keyClick(window.table, Qt.Key.Key_Escape)

    (url,) = opened.urls
    result = opened.row(url).result
    assert result is not None and result.action is Action.CANCELLED
    assert opened.snapshot() == before
    assert temporaries(opened.cache_dir) == []
