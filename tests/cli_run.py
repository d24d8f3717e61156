"""Running `core.cli.main` in a test (shared by the command-line tests)."""

from __future__ import annotations

import pytest

from core import cli

# The keys of every target's JSON record (cli-contract.md, v1); v2 commands add their own.
RESULT_KEYS = {
    "url",
    "path",
    "category",
    "action",
    "before_mtime",
    "after_mtime",
    "bytes",
    "sha256",
    "ok",
    "error",
}


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`core.cli.main` in-process: (exit status, stdout, stderr)."""
    try:
        code = cli.main(list(args))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err
