"""The real window on an X server (Xvfb), through Qt's xcb platform: it runs and paints."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.gui.screenshots import assert_demo_succeeded, describe, run_screenshot_demo
from tests.gui.xserver import running_xvfb


@pytest.mark.xvfb
def test_window_runs_on_xvfb_with_the_xcb_platform(qtbot: QtBot, tmp_path: Path) -> None:
    # In the test, not a fixture: on CI a missing Xvfb is a FAILED test (see xserver.binary).
    with running_xvfb(qtbot.waitUntil, tmp_path) as display:
        completed, screenshots = run_screenshot_demo(tmp_path, {"DISPLAY": display})

    assert "No display found" not in completed.stdout, describe(completed)
    assert_demo_succeeded(completed, screenshots)
