"""Entry point of the `image-refresh` command: the window, or the core's command line.

Kept free of Qt imports so `image-refresh list` and `--version` start without loading widgets.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from collections.abc import Sequence


def open_window(args: argparse.Namespace) -> int:
    from gui.app import run  # noqa: PLC0415 - Qt is loaded only when the window is wanted

    return run(args)


def main(argv: Sequence[str] | None = None) -> int:
    # In the bundled program a refresh worker process starts as this same executable: this
    # runs the worker and never returns there (elsewhere it does nothing).
    multiprocessing.freeze_support()
    # Imported here: a worker process runs this module too, and needs none of the command line.
    from core import cli  # noqa: PLC0415

    return cli.main(argv, open_window=open_window)


if __name__ == "__main__":
    sys.exit(main())
