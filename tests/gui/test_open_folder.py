"""File ▸ Open Folder… on any folder of images adopts it in place, Import Source URLs… gives its
images their sources, and a force refresh then replaces the originals where they are."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.models import Action
from gui.image_model import Column
from gui.main_window import MainWindow
from tests.gui.helpers import show_active
from tests.server import LoopbackServer, image

SECRET = "AIzaSyWINDOWSECRET"


def picture(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.warnings_expected  # the refused row of the export is logged
def test_open_folder_adopts_in_place_and_import_sources_lets_it_refresh(
    qtbot: QtBot, server: LoopbackServer, tmp_path: Path, tracked_windows: list[MainWindow]
) -> None:
    uploads = tmp_path / "uploads"
    originals = [
        uploads / "venues" / "hall" / "original_hero.jpg",
        uploads / "performers" / "lee-12" / "original_face.jpg",
    ]
    new = {}
    rows = ["path,url"]
    for n, original in enumerate(originals):
        original.parent.mkdir(parents=True)
        original.write_bytes(picture((200, 20 * n, 20)))
        new[original] = picture((20, 20 * n, 200))
        url = server.route(f"/img/{n}.jpg", image(new[original])) + f"?key={SECRET}"
        rows.append(f"{original.relative_to(uploads)},{url}")
    export = tmp_path / "export.csv"
    export.write_text("\n".join([*rows, "not/there.txt,http://127.0.0.1:9/x.jpg"]) + "\n")
    window = MainWindow()
    tracked_windows.append(window)

    with qtbot.waitSignal(window.cache_opened, timeout=10_000):
        window.open_cache(uploads)
    assert window.model.rowCount() == 2
    assert not (uploads / ".image-refresh").exists()  # nothing of ours in the folder

    with qtbot.waitSignal(window.sources_imported, timeout=10_000) as imported:
        window.import_sources(export)
    assert imported.args == [2, 1]
    assert "1 refused" in window.statusBar().currentMessage()
    shown = [window.model.index(r, Column.URL).data() for r in range(2)]
    assert all("key=***" in text and SECRET not in text for text in shown)

    show_active(qtbot, window)
    qtbot.keyClick(window.table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    with qtbot.waitSignal(window.controller.batch_finished, timeout=20_000):
        qtbot.keyClick(
            window.table,
            Qt.Key.Key_R,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
    for original in originals:
        assert original.read_bytes() == new[original]
    results = [row.result for row in window.model.rows()]
    assert all(r is not None and r.action is Action.REFRESHED for r in results)
    assert sorted(p.name for p in uploads.rglob("*") if p.is_file()) == sorted(
        p.name for p in originals
    )
