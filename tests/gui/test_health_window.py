"""The window's health features: Scan (action, toolbar, shortcut), the Health column with each
row's reason, the health filter, the status count, Repair, Esc, and Export Report."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolBar
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from core.health import Health
from core.models import ImageEntry
from gui.health_panel import LAST_RUN, SELECTION
from gui.health_text import HealthFilter
from gui.image_model import Column
from gui.main_window import MainWindow
from tests.gui.helpers import show_active
from tests.health_fixtures import CASES, HealthCache, file_states, make_health_cache
from tests.server import LoopbackServer, jpeg_bytes

SCAN_TIMEOUT_MS = 60_000


@pytest.fixture
def health_cache(cache_dir: Path, server: LoopbackServer) -> HealthCache:
    return make_health_cache(cache_dir, server)


def open_on(qtbot: QtBot, tracked: list[MainWindow], folder: Path) -> MainWindow:
    window = MainWindow()
    tracked.append(window)
    with qtbot.waitSignal(window.cache_opened, timeout=10_000):
        window.open_cache(folder, remember=False)
    return window


def health_by_path(window: MainWindow) -> dict[str, Health | None]:
    verdicts = {str(row.path): window.model.health_of(row.key) for row in window.model.rows()}
    return {path: verdict.health if verdict else None for path, verdict in verdicts.items()}


def shown_names(window: MainWindow) -> set[str]:
    proxy = window.proxy
    return {proxy.index(r, Column.NAME).data() for r in range(proxy.rowCount())}


def test_scan_fills_the_health_column_with_each_rows_reason(
    qtbot: QtBot,
    qtmodeltester: ModelTester,
    health_cache: HealthCache,
    tracked_windows: list[MainWindow],
) -> None:
    window = open_on(qtbot, tracked_windows, health_cache.root)
    qtmodeltester.check(window.model)
    before = file_states(health_cache.root)
    assert window.model.headerData(Column.HEALTH, Qt.Orientation.Horizontal) == "Health"
    with qtbot.waitSignal(window.health.scan_finished, timeout=SCAN_TIMEOUT_MS) as finished:
        window.health.scan_action.trigger()
    assert len(finished.args[0]) == 14
    assert health_by_path(window) == health_cache.expected()
    assert file_states(health_cache.root) == before

    half = window.model.index_for_key(health_cache.urls["half.jpg"], Column.HEALTH)
    assert half.data() == "✘ truncated: the JPEG image is truncated"
    assert "the end of the file is missing" in half.data(Qt.ItemDataRole.ToolTipRole)
    hero = window.model.index_for_key(health_cache.urls["hero.jpg"], Column.HEALTH)
    assert hero.data() == "✔ ok"
    assert window.health.status_label.text() == "Health: 11 broken, 3 ok"
    qtmodeltester.check(window.model)


def test_the_health_filter_shows_the_broken_rows(
    qtbot: QtBot, health_cache: HealthCache, tracked_windows: list[MainWindow]
) -> None:
    window = open_on(qtbot, tracked_windows, health_cache.root)
    box = window.health.filter_box
    box.setCurrentIndex(box.findData(HealthFilter.UNSCANNED))
    assert window.proxy.rowCount() == 14
    with qtbot.waitSignal(window.health.scan_finished, timeout=SCAN_TIMEOUT_MS):
        window.health.scan()
    assert window.proxy.rowCount() == 0  # every row has a verdict now
    box.setCurrentIndex(box.findData(HealthFilter.BROKEN))
    assert window.proxy.rowCount() == 11
    assert "hero" not in " ".join(shown_names(window))
    box.setCurrentIndex(box.findData(HealthFilter.TRUNCATED))
    assert window.proxy.rowCount() == 6
    box.setCurrentIndex(box.findData(HealthFilter.OK))
    assert window.proxy.rowCount() == 3
    box.setCurrentIndex(0)
    assert window.proxy.rowCount() == 14
    assert "11 broken" in window.health.status_label.text()


def test_scan_is_on_the_toolbar_the_health_menu_and_a_shortcut(
    qtbot: QtBot, health_cache: HealthCache, tracked_windows: list[MainWindow]
) -> None:
    window = open_on(qtbot, tracked_windows, health_cache.root)
    toolbar = window.findChild(QToolBar, "mainToolbar")
    assert toolbar is not None and window.health.scan_action in toolbar.actions()
    menus = [a.menu() for a in window.menuBar().actions()]
    assert window.health.menu in menus
    assert window.health.scan_action in window.health.menu.actions()
    show_active(qtbot, window)
    with qtbot.waitSignal(window.health.scan_finished, timeout=SCAN_TIMEOUT_MS):
        qtbot.keyClick(
            window.table,
            Qt.Key.Key_S,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
    assert None not in health_by_path(window).values()


def test_repair_all_refreshes_the_broken_rows_and_scans_them_again(
    qtbot: QtBot,
    health_cache: HealthCache,
    server: LoopbackServer,
    tracked_windows: list[MainWindow],
    tmp_path: Path,
) -> None:
    window = open_on(qtbot, tracked_windows, health_cache.root)
    with qtbot.waitSignal(window.health.scan_finished, timeout=SCAN_TIMEOUT_MS):
        window.health.scan()
    before = file_states(health_cache.root)
    with qtbot.waitSignal(window.health.scan_finished, timeout=SCAN_TIMEOUT_MS) as rescanned:
        keys = window.health.repair_all()
    assert sorted(keys) == sorted(
        health_cache.urls[c.name] for c in CASES if c.health is not Health.OK
    )
    assert len(rescanned.args[0]) == len(keys)  # only the repaired rows were read again
    expected = dict.fromkeys(health_cache.expected(), Health.OK)
    expected[str(health_cache.orphan)] = Health.TRUNCATED  # no source URL: left alone
    assert health_by_path(window) == expected
    for case in CASES:
        row = window.model.row_for_key(health_cache.urls[case.name])
        assert row is not None
        if case.health is Health.OK:
            assert row.result is None  # a whole file is not touched
            assert file_states(health_cache.root)[str(row.path)] == before[str(row.path)]
        else:
            assert row.result is not None and row.result.action.value == "refreshed"
            assert Path(str(row.path)).read_bytes() == case.served
    assert (
        file_states(health_cache.root)[str(health_cache.orphan)] == before[str(health_cache.orphan)]
    )
    assert window.health.status_label.text() == "Health: 1 broken, 13 ok"

    # The report of that run: the health found, the repair, the health after, two pictures.
    report = tmp_path / "repair.html"
    with qtbot.waitSignal(window.health.report_written, timeout=SCAN_TIMEOUT_MS):
        assert window.health.export_report(report, LAST_RUN)
    text = report.read_text("utf-8")
    assert len(re.findall(r'<tr class="ok">', text)) == len(keys)
    assert text.count("now: ok") == len(keys)
    assert "Image Refresh: repair" in text
    assert text.count("<figcaption>after</figcaption>") == len(keys)


def test_export_of_the_selection_as_csv(
    qtbot: QtBot, health_cache: HealthCache, tracked_windows: list[MainWindow], tmp_path: Path
) -> None:
    window = open_on(qtbot, tracked_windows, health_cache.root)
    with qtbot.waitSignal(window.health.scan_finished, timeout=SCAN_TIMEOUT_MS):
        window.health.scan()
    window.select_all()
    report = tmp_path / "all.csv"
    with qtbot.waitSignal(window.health.report_written, timeout=SCAN_TIMEOUT_MS):
        assert window.health.export_report(report, SELECTION)
    rows = list(csv.DictReader(io.StringIO(report.read_text("utf-8"))))
    assert {row["path"]: row["health"] for row in rows} == {
        path: health.value for path, health in health_cache.expected().items()
    }
    assert all(row["action"] == "scanned" for row in rows)


def test_nothing_to_repair_or_report_says_so(
    qtbot: QtBot, health_cache: HealthCache, tracked_windows: list[MainWindow], tmp_path: Path
) -> None:
    window = open_on(qtbot, tracked_windows, health_cache.root)
    assert window.health.repair_all() == []  # nothing scanned yet
    assert "Nothing to repair" in window.statusBar().currentMessage()
    assert not window.health.export_run_action.isEnabled()
    assert not window.health.export_report(tmp_path / "r.html", LAST_RUN)


def test_esc_stops_a_scan(qtbot: QtBot, cache_dir: Path, tracked_windows: list[MainWindow]) -> None:
    from core.cache import ImageCache  # noqa: PLC0415

    with ImageCache(cache_dir) as cache:
        folder = cache.root / "photos"
        folder.mkdir()
        tiny = jpeg_bytes(size=(8, 8))
        for index in range(3_000):
            (folder / f"p{index:05d}.jpg").write_bytes(tiny)
        cache.manifest.add_scanned_files(
            ImageEntry(url=None, category="photos", rel_path=f"photos/p{i:05d}.jpg")
            for i in range(3_000)
        )
    window = open_on(qtbot, tracked_windows, cache_dir)
    show_active(qtbot, window)
    with qtbot.waitSignal(window.health.scan_finished, timeout=SCAN_TIMEOUT_MS) as finished:
        assert window.health.scan()
        assert window.commands.cancel.isEnabled()
        qtbot.keyClick(window.table, Qt.Key.Key_Escape)
    assert len(finished.args[0]) < 3_000
    assert "Scan stopped" in window.statusBar().currentMessage()
    assert not window.health.is_scanning()
    assert window.health.scan_action.isEnabled()
