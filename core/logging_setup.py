"""Logging for the command line and the window: stderr on request, a rotating file always."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from core.settings import default_log_dir

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CORE_LOGGER = "core"
_OUR_HANDLERS = ("image-refresh-stderr", "image-refresh-file")


def configure_logging(verbose: bool, log_dir: Path | None = None) -> Path | None:
    """Send core records to a rotating file (and to stderr if `verbose`); return the file."""
    logger = logging.getLogger(CORE_LOGGER)
    logger.setLevel(logging.INFO)
    for old in [h for h in logger.handlers if h.name in _OUR_HANDLERS]:
        logger.removeHandler(old)
        old.close()
    formatter = logging.Formatter(LOG_FORMAT)
    stderr = logging.StreamHandler()
    stderr.setLevel(logging.INFO if verbose else logging.CRITICAL + 1)
    stderr.setFormatter(formatter)
    stderr.name = "image-refresh-stderr"
    logger.addHandler(stderr)
    folder = log_dir or default_log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            folder / "image-refresh.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        return None  # no writable log folder: keep working without a log file
    file_handler.setFormatter(formatter)
    file_handler.name = "image-refresh-file"
    logger.addHandler(file_handler)
    return Path(file_handler.baseFilename)
