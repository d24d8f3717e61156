"""The window and the command line's table say the same of a refresh that brought identical
bytes: "refreshed (same bytes)"; the JSON's action stays "refreshed" (the contract's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core import cli
from gui.image_model import Column
from tests.gui.helpers import WindowFactory
from tests.server import LoopbackServer, image, jpeg_bytes

SAME = jpeg_bytes((30, 140, 90))


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    out, _err = capsys.readouterr()
    return code, out


def test_identical_bytes_read_the_same_in_the_window_and_the_command_line(
    qtbot: QtBot,
    capsys: pytest.CaptureFixture[str],
    server: LoopbackServer,
    open_window: WindowFactory,
    tmp_path: Path,
) -> None:
    """Issue 11, point 8: "refreshed" in the command line, "= same bytes" in the window."""
    opened = open_window({"/events/poster.jpg": image(SAME)})
    window = opened.window
    (url,) = opened.urls
    with qtbot.waitSignal(window.controller.batch_finished, timeout=10_000):
        window.refresh_entries([opened.row(url).entry], force_refresh=True)
    shown = window.model.index_for_key(url, Column.RESULT).data()

    other = str(tmp_path / "cli-cache")
    assert run_cli(capsys, "add", url, "--cache-dir", other)[0] == 0
    code, table = run_cli(capsys, "refresh", "--force", "--all", "--cache-dir", other)
    code_json, lines = run_cli(
        capsys, "refresh", "--force", "--all", "--json", "--cache-dir", other
    )

    assert shown == "= refreshed (same bytes)"
    assert code == 0 and table.startswith("refreshed (same bytes) "), table
    assert code_json == 0 and json.loads(lines)["action"] == "refreshed"
