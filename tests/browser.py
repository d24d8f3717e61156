"""Headless Chromium (Debian's `chromium`, installed by `make test`) for the report tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

# As root Chromium needs --no-sandbox; a fresh profile and no background traffic keep it to the
# one local page it is shown.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
)


def chromium_binary() -> str:
    """The browser; a missing one fails the test on CI (`make test` installs it), else skips."""
    found = shutil.which("chromium")
    if found is None:
        message = "chromium is not installed (make test installs the Debian package)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _run(page: str, *flags: str) -> subprocess.CompletedProcess[str]:
    binary = chromium_binary()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *flags, page],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )


def screenshot(
    page: Path, out: Path, size: tuple[int, int] = (1400, 1800), hash_: str = ""
) -> Path:
    """A PNG of `page` as the browser draws it, `size` pixels."""
    _run(
        page.as_uri() + hash_,
        f"--window-size={size[0]},{size[1]}",
        f"--screenshot={out}",
    )
    assert out.is_file() and out.stat().st_size > 0
    return out


def dom_after_load(page: Path, hash_: str = "") -> str:
    """The document once the page has loaded and its scripts have run."""
    return _run(page.as_uri() + hash_, "--virtual-time-budget=2000", "--dump-dom").stdout
