"""Every wait of one download ends at once on a cancel or at its total time limit (--max-time).

A download waits in many places: for a request slot of its host, for the connection's answer,
in urllib3's pause before a retry, between the chunks of its body. Each of them subscribes to the
download's stop, which the caller's cancel and the deadline both set: a waiting socket is shut
down, a pause is woken. The connection and retry classes below carry that into urllib3.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from core.cancellation import Cancellation
from core.deadlines import deadlines
from core.models import FailureReason, RefreshError

_current = threading.local()


class DownloadStopped(Exception):  # noqa: N818 - a signal to stop, not an error
    """Raised inside urllib3 to end a download whose stop was set (cancel or deadline)."""


class DownloadStop:
    """The stop of the download running on this thread, while its `with` block runs."""

    def __init__(self, cancel: Cancellation | None, max_time: float) -> None:
        self.stop = Cancellation()
        self.max_time = max_time
        self.timed_out = False
        self._cancel = cancel
        self._deadline = time.monotonic() + max_time
        self._undo: list[Callable[[], None]] = []

    def __enter__(self) -> DownloadStop:
        if self._cancel is not None:
            self._undo.append(self._cancel.subscribe(self.stop.set))
        self._undo.append(deadlines.call_at(self._deadline, self._time_out))
        _current.download = self
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _current.download = None
        for undo in self._undo:
            undo()

    def remaining(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    def pause(self, seconds: float) -> None:
        """Sleep, unless stopped first (then DownloadStopped)."""
        if self.stop.wait(seconds):
            raise DownloadStopped

    def _time_out(self) -> None:
        self.timed_out = True
        self.stop.set()


def current() -> DownloadStop | None:
    download: DownloadStop | None = getattr(_current, "download", None)
    return download


def shut_down(sock: socket.socket | None) -> None:
    """End every read and write on the socket at once, from any thread."""
    if sock is not None:
        with contextlib.suppress(OSError):
            # the plain socket's shutdown: an SSLSocket's would drop its SSL state
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


@contextlib.contextmanager
def _socket_stops_with_download(connection: HTTPConnection) -> Iterator[None]:
    download = current()
    if download is None or connection.sock is None:
        yield
        return
    with download.stop.on_cancel(functools.partial(shut_down, connection.sock)):
        yield


class _StoppableHTTPConnection(HTTPConnection):
    """The wait for the response's headers (a server that never answers) ends on a stop."""

    def getresponse(self) -> Any:
        with _socket_stops_with_download(self):
            return super().getresponse()


class _StoppableHTTPSConnection(HTTPSConnection):
    def getresponse(self) -> Any:
        with _socket_stops_with_download(self):
            return super().getresponse()


class _StoppableHTTPPool(HTTPConnectionPool):
    ConnectionCls = _StoppableHTTPConnection


class _StoppableHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _StoppableHTTPSConnection


class StoppableAdapter(HTTPAdapter):
    """requests' adapter over connections whose waits end on the download's stop."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _StoppableHTTPPool,
            "https": _StoppableHTTPSPool,
        }


class StoppableRetry(Retry):
    """urllib3's retries, whose pauses end on a stop and never wait out a long Retry-After."""

    max_retry_after = 60.0

    def increment(self, *args: Any, **kwargs: Any) -> StoppableRetry:
        download = current()
        if download is not None and download.stop.is_set():
            raise DownloadStopped  # a stopped download is not tried again
        return super().increment(*args, **kwargs)

    def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:
        seconds = self.get_retry_after(response)
        if not seconds:
            return False
        download = current()
        limit = self.max_retry_after
        if download is not None:
            limit = min(limit, download.remaining())
        if seconds > limit:
            raise RefreshError(
                FailureReason.HTTP_STATUS,
                f"the server answered HTTP {response.status} and asked to wait"
                f" {seconds:g} s before trying again",
            )
        self._pause(seconds)
        return True

    def _sleep_backoff(self) -> None:
        backoff = self.get_backoff_time()
        if backoff > 0:
            self._pause(backoff)

    @staticmethod
    def _pause(seconds: float) -> None:
        download = current()
        if download is None:
            time.sleep(seconds)
        else:
            download.pause(seconds)
