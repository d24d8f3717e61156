"""The real window on an X server (Xvfb), through Qt's xcb platform: it runs and paints."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.gui.screenshots import assert_demo_succeeded, describe, run_screenshot_demo

X_SOCKETS = Path("/tmp/.X11-unix")
START_TIMEOUT_MS = 10_000


def xvfb_binary() -> str:
    found = shutil.which("Xvfb")
    if found is None:
        message = "Xvfb is not installed (`make system-deps` installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)  # on CI the window test must run, never silently skip
        pytest.skip(message)
    return found


def free_display() -> int:
    for number in range(90, 200):
        if not (X_SOCKETS / f"X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return number
    raise RuntimeError("no free X display number between :90 and :199")


@contextlib.contextmanager
def running_xvfb(binary: str, qtbot: QtBot, tmp_path: Path) -> Iterator[str]:
    """A private Xvfb on a free display; yields its DISPLAY value, kills it on the way out."""
    number = free_display()
    log = (tmp_path / "xvfb.log").open("w")
    server = subprocess.Popen(
        [binary, f":{number}", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        socket = X_SOCKETS / f"X{number}"
        qtbot.waitUntil(
            lambda: socket.exists() or server.poll() is not None, timeout=START_TIMEOUT_MS
        )
        assert server.poll() is None, (tmp_path / "xvfb.log").read_text()
        yield f":{number}"
    finally:
        server.terminate()  # SIGTERM: Xvfb removes its socket and lock file
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.mark.xvfb
def test_window_runs_on_xvfb_with_the_xcb_platform(qtbot: QtBot, tmp_path: Path) -> None:
    binary = xvfb_binary()  # in the test, not a fixture: on CI a missing Xvfb is a FAILED test
    with running_xvfb(binary, qtbot, tmp_path) as display:
        completed, screenshots = run_screenshot_demo(tmp_path, {"DISPLAY": display})

    assert "No display found" not in completed.stdout, describe(completed)
    assert_demo_succeeded(completed, screenshots)
