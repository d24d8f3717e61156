"""Logging for the command line and the window: stderr on request, a rotating file always.

Records are handed to a queue and written by a background thread, so download threads never
wait on each other for the file or the terminal.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
from pathlib import Path

from core.settings import default_log_dir

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CORE_LOGGER = "core"
HANDLER_NAME = "image-refresh-queue"


class LogOutput:
    """The running outputs of the core's log; `close()` flushes and detaches them."""

    def __init__(
        self,
        handler: logging.handlers.QueueHandler,
        listener: logging.handlers.QueueListener,
        log_file: Path | None,
    ) -> None:
        self._handler = handler
        self._listener = listener
        self.log_file = log_file

    def close(self) -> None:
        logging.getLogger(CORE_LOGGER).removeHandler(self._handler)
        self._listener.stop()  # writes what is still queued
        for handler in self._listener.handlers:
            handler.close()


def configure_logging(verbose: bool, log_dir: Path | None = None) -> LogOutput:
    """Send core records to a rotating file (INFO and up: one line per refresh), and to stderr
    if `verbose`, with each step of a refresh at DEBUG."""
    logger = logging.getLogger(CORE_LOGGER)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    for old in [h for h in logger.handlers if h.name == HANDLER_NAME]:
        logger.removeHandler(old)
    formatter = logging.Formatter(LOG_FORMAT)
    outputs: list[logging.Handler] = []
    if verbose:
        outputs.append(logging.StreamHandler())
    log_file = _open_log_file(log_dir or default_log_dir())
    if log_file is not None:
        log_file.setLevel(logging.INFO)
        outputs.append(log_file)
    for output in outputs:
        output.setFormatter(formatter)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler = logging.handlers.QueueHandler(records)
    handler.name = HANDLER_NAME
    listener = logging.handlers.QueueListener(records, *outputs, respect_handler_level=True)
    listener.start()
    logger.addHandler(handler)
    return LogOutput(handler, listener, Path(log_file.baseFilename) if log_file else None)


class _RotatingLogFile(logging.handlers.RotatingFileHandler):
    """Rolls over by the size written so far: the standard check formats every record a second
    time only to add its length, a cost per line that a 2 MB limit does not need."""

    def shouldRollover(self, record: logging.LogRecord) -> bool:  # noqa: N802 - logging's name
        if self.stream is None:
            self.stream = self._open()
        return self.maxBytes > 0 and self.stream.tell() >= self.maxBytes


def _open_log_file(folder: Path) -> logging.handlers.RotatingFileHandler | None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return _RotatingLogFile(
            folder / "image-refresh.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        return None  # no writable log folder: keep working without a log file
