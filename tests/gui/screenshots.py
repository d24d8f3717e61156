"""Running `image-refresh gui --screenshot` in a subprocess and checking what it leaves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

RUN_TIMEOUT = 120
MIN_COLOURS = 64


def command() -> Path:
    """The installed console script, beside this interpreter (the project's venv)."""
    script = Path(sys.executable).with_name("image-refresh")
    assert script.exists(), f"{script} is missing: pip install -e '.[test]'"
    return script


def run_screenshot_demo(
    tmp_path: Path, environment: dict[str, str], arguments: list[str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[Path]]:
    """Run the scripted demo; return the process and the screenshot paths it printed.

    `arguments` default: `gui --screenshot <tmp_path>/shots/demo.png`.
    """
    if arguments is None:
        arguments = ["gui", "--screenshot", str(tmp_path / "shots" / "demo.png")]
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    env.update(environment)
    env["TMPDIR"] = str(tmp_path)  # the demo's temporary cache lands here, not in /tmp
    completed = subprocess.run(
        [str(command()), *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    printed = [
        Path(line.split(":", 1)[1].strip())
        for line in completed.stdout.splitlines()
        if line.startswith("screenshot:")
    ]
    return completed, printed


def describe(completed: subprocess.CompletedProcess[str]) -> str:
    return f"exit {completed.returncode}\nstdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"


def assert_not_blank(png: Path) -> None:
    """A real screenshot has many colours (text, thumbnails), not one flat fill."""
    with Image.open(png) as picture:
        assert picture.format == "PNG"
        assert picture.width >= 640 and picture.height >= 400, picture.size
        colours = picture.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None, "more than a million colours"
    assert len(colours) >= MIN_COLOURS, f"{png.name}: only {len(colours)} colours"
    most = max(count for count, _colour in colours)
    assert most < 0.9 * picture.width * picture.height, f"{png.name} is mostly one colour"


def assert_demo_succeeded(
    completed: subprocess.CompletedProcess[str], screenshots: list[Path], stem: str = "demo"
) -> None:
    assert completed.returncode == 0, describe(completed)
    refreshed = [line for line in completed.stdout.splitlines() if " → " in line]
    assert len(refreshed) >= 20, describe(completed)
    assert all(line.rstrip().endswith("refreshed") for line in refreshed), describe(completed)
    assert [path.name for path in screenshots] == [
        f"{stem}-before.png",
        f"{stem}-after.png",
        f"{stem}-after-grid.png",
    ], describe(completed)
    for png in screenshots:
        assert png.is_file(), png
        assert_not_blank(png)
