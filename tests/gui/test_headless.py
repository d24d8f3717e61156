"""Without any display, `image-refresh gui` still does the job offscreen and says so."""

from __future__ import annotations

from pathlib import Path

from tests.gui.screenshots import assert_demo_succeeded, describe, run_screenshot_demo


def test_gui_without_a_display_runs_the_demo_offscreen_and_saves_screenshots(
    tmp_path: Path,
) -> None:
    completed, screenshots = run_screenshot_demo(tmp_path, {})

    assert "No display found" in completed.stdout, describe(completed)
    assert_demo_succeeded(completed, screenshots)
    assert all(path.parent == tmp_path / "shots" for path in screenshots)


def test_the_bare_command_is_the_window_and_without_a_display_it_runs_the_demo(
    tmp_path: Path,
) -> None:
    # The desktop entry runs `image-refresh` with no arguments.
    completed, screenshots = run_screenshot_demo(tmp_path, {}, arguments=[])

    assert "No display found" in completed.stdout, describe(completed)
    assert_demo_succeeded(completed, screenshots, stem="image-refresh-demo")
    assert all(path.parent == tmp_path for path in screenshots)
