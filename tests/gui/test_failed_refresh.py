"""A force refresh that fails keeps the old file and its mtime, and the row says why."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.models import FailureReason
from gui.image_model import Column
from gui.result_text import full_time
from gui.rows import RowState
from tests.gui.helpers import WindowFactory
from tests.server import Responder, image, jpeg_bytes, send, sequence

HTML = b"<!doctype html><html><body>Oops, an error page</body></html>"


@pytest.mark.warnings_expected  # failed refreshes log a WARNING
@pytest.mark.parametrize(
    ("second_answer", "reason", "words"),
    [
        (send(404, HTML, "text/html"), FailureReason.HTTP_STATUS, "HTTP 404"),
        # an HTML error page served with a 200
        (send(200, HTML, "text/html"), FailureReason.NOT_AN_IMAGE, "not an image"),
    ],
    ids=["404", "html-200"],
)
def test_failed_force_refresh_keeps_the_old_file_and_shows_the_reason(
    qtbot: QtBot,
    open_window: WindowFactory,
    second_answer: Responder,
    reason: FailureReason,
    words: str,
) -> None:
    opened = open_window({"/venues/hall.jpg": sequence(image(jpeg_bytes()), second_answer)})
    window = opened.window
    (url,) = opened.urls
    before = opened.snapshot()
    row_before = opened.row(url)
    assert row_before.file is not None

    with qtbot.waitSignal(window.controller.batch_finished, timeout=10_000):
        window.refresh_entries([row_before.entry], force_refresh=True)

    assert opened.snapshot() == before  # same bytes, same mtime on disk
    row = opened.row(url)
    assert row.state is RowState.FAILED
    assert row.file is not None
    assert row.file.mtime == row_before.file.mtime
    assert row.result is not None and row.result.reason is reason
    index = window.model.index_for_key(url, Column.RESULT)
    text = index.data()
    tooltip = index.data(Qt.ItemDataRole.ToolTipRole)
    assert text.startswith("✖ failed, kept")
    assert words in text
    assert f"reason: {row.result.error}" in tooltip
    assert "previous file was kept" in tooltip
    assert window.model.index_for_key(url, Column.MODIFIED).data() == full_time(before[url][0])
