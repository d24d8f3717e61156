"""The one place that speaks HTTP: sessions, retries, timeouts, limits and streaming to disk."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit

import requests

from core import __version__
from core.cancellation import Cancellation
from core.download_slots import DownloadSlots
from core.download_stop import (
    DownloadStop,
    DownloadStopped,
    StoppableAdapter,
    StoppableRetry,
    shut_down,
)
from core.models import FailureReason, RefreshError
from core.secrets import LazyRedacted, redact, redact_text
from core.settings import RefreshSettings

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int | None], None]
"""Called with (bytes so far, expected total or None) while a slow body arrives: first once it
has taken PROGRESS_DELAY seconds, then at most every PROGRESS_INTERVAL. A quick download reports
nothing (its result follows at once), which spares a window one update per chunk per image."""
PROGRESS_DELAY = 0.25
PROGRESS_INTERVAL = 0.1

TRANSIENT_STATUSES = (429, 502, 503, 504)


@dataclass(frozen=True, slots=True)
class Validators:
    """What a conditional request sends: the ETag and Last-Modified recorded last time."""

    etag: str | None
    last_modified: str | None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str
    status: int
    not_modified: bool
    bytes_written: int = 0
    sha256: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None


def check_url(url: str) -> None:
    """Refuse anything but an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as error:
        raise RefreshError(
            FailureReason.BAD_URL, f"not a valid URL: {redact(url)!r} ({error})"
        ) from error
    if parts.scheme not in ("http", "https"):
        raise RefreshError(
            FailureReason.BAD_URL,
            f"only http and https URLs can be downloaded, not {redact(url)!r}",
        )
    if not parts.hostname or any(c in url for c in "\x00\r\n\t "):
        raise RefreshError(FailureReason.BAD_URL, f"not a valid URL: {redact(url)!r}")


class HttpClient:
    """Downloads with one `requests.Session` per thread and a limit of requests per host."""

    def __init__(self, settings: RefreshSettings) -> None:
        self.settings = settings
        self._local = threading.local()
        self._host_slots: dict[str, DownloadSlots] = {}
        self._host_slots_lock = threading.Lock()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # The environment is read once (see _environment_proxies), not on every request,
            # where requests' own lookup (proxies, .netrc) costs more than the request itself.
            session.trust_env = False
            session.verify = (
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            )
            retry = StoppableRetry(
                total=self.settings.retries,
                connect=self.settings.retries,
                read=self.settings.retries,
                status=self.settings.retries,
                other=0,
                redirect=False,
                status_forcelist=TRANSIENT_STATUSES,
                allowed_methods=frozenset({"GET"}),
                backoff_factor=self.settings.backoff_factor,
                backoff_max=self.settings.backoff_max,
                respect_retry_after_header=True,
                raise_on_status=False,
            )
            adapter = StoppableAdapter(max_retries=retry, pool_connections=4, pool_maxsize=4)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.max_redirects = self.settings.max_redirects
            session.headers["User-Agent"] = f"image-refresh/{__version__}"
            session.headers["Accept"] = "image/avif,image/webp,image/*,*/*;q=0.5"
            self._local.session = session
        return session

    @contextlib.contextmanager
    def _host_slot(self, url: str, stop: Cancellation) -> Iterator[None]:
        """One of the host's request slots, or DownloadStopped once `stop` is set."""
        host = urlsplit(url).netloc.lower()
        with self._host_slots_lock:
            slots = self._host_slots.get(host)
            if slots is None:
                slots = self._host_slots[host] = DownloadSlots(self.settings.per_host_limit)
        with slots.gate(stop) as gate:
            if not gate.wait():
                raise DownloadStopped
            yield

    def fetch(
        self,
        url: str,
        out: BinaryIO,
        *,
        force_refresh: bool,
        validators: Validators | None,
        cancel: Cancellation | None = None,
        progress: ProgressCallback | None = None,
    ) -> FetchResult:
        """GET `url` into `out`; raise RefreshError for anything but a complete 2xx body or a 304.

        `force_refresh` makes the request unconditional and asks caches on the way not to answer
        from a stored copy; otherwise `validators` (if any) make it conditional. `cancel`, and the
        settings' `max_time` for the whole download, end it wherever it waits.
        """
        check_url(url)
        headers: dict[str, str] = {}
        if force_refresh:
            headers["Cache-Control"] = "no-cache"
            headers["Pragma"] = "no-cache"
        elif validators is not None:
            headers.update(validators.headers())
        timeout = self.settings.timeout
        conditional = "If-None-Match" in headers or "If-Modified-Since" in headers
        with DownloadStop(cancel, self.settings.max_time) as download:
            try:
                with self._host_slot(url, download.stop):
                    session = self._session()
                    # Prepared here rather than by session.get(): the session has nothing to
                    # merge in (no cookies, auth or environment of its own; see _session), and
                    # merging its settings costs more than the rest of the request.
                    request = requests.PreparedRequest()
                    request.prepare(method="GET", url=url, headers={**session.headers, **headers})
                    response = session.send(
                        request,
                        stream=True,
                        timeout=(timeout, timeout),
                        proxies=_environment_proxies(url),
                        verify=session.verify,
                    )
                    # A read from a silent server waits up to the timeout for its next chunk:
                    # a stop shuts the socket down, which ends that read at once.
                    stop_reading = functools.partial(shut_down, _socket_of(response))
                    with response, download.stop.on_cancel(stop_reading):
                        return self._read_body(response, out, conditional, download.stop, progress)
            except Exception as error:  # requests, urllib3 and OSError subclasses
                # a stop that lands during a wait surfaces as whatever ends the wait
                if cancel is not None and cancel.is_set():
                    raise RefreshError(FailureReason.CANCELLED, "cancelled") from error
                if download.timed_out:
                    raise RefreshError(
                        FailureReason.TIMEOUT,
                        f"the download took longer than {download.max_time:g} s",
                    ) from error
                if isinstance(error, RefreshError):
                    raise
                raise _describe(error, timeout) from error

    def _read_body(
        self,
        response: requests.Response,
        out: BinaryIO,
        conditional: bool,
        stop: Cancellation,
        progress: ProgressCallback | None,
    ) -> FetchResult:
        final_url = response.url
        check_url(final_url)
        if response.status_code == 304 and conditional:
            log.debug("download url=%s status=304 bytes=0 (not modified)", LazyRedacted(final_url))
            return FetchResult(final_url, 304, not_modified=True)
        if not 200 <= response.status_code < 300:
            raise RefreshError(
                FailureReason.HTTP_STATUS,
                f"the server answered HTTP {response.status_code} {response.reason or ''}".rstrip(),
            )
        declared = _content_length(response)
        limit = self.settings.max_bytes
        if declared is not None and declared > limit:
            raise RefreshError(
                FailureReason.TOO_LARGE, f"the image is {declared} bytes, over the limit of {limit}"
            )
        digest = hashlib.sha256()
        received = 0
        next_report = time.monotonic() + PROGRESS_DELAY
        for chunk in response.iter_content(self.settings.chunk_size):
            if stop.is_set():
                raise DownloadStopped
            received += len(chunk)
            if received > limit:
                raise RefreshError(
                    FailureReason.TOO_LARGE, f"the body exceeds the limit of {limit} bytes"
                )
            digest.update(chunk)
            out.write(chunk)
            if progress is not None and (now := time.monotonic()) >= next_report:
                progress(received, declared)
                next_report = now + PROGRESS_INTERVAL
        if declared is not None and received < declared:
            raise RefreshError(
                FailureReason.TRUNCATED,
                f"the body was cut short: {received} of {declared} bytes arrived",
            )
        log.debug(
            "download url=%s status=%d bytes=%d",
            LazyRedacted(final_url),
            response.status_code,
            received,
        )
        return FetchResult(
            final_url,
            response.status_code,
            not_modified=False,
            bytes_written=received,
            sha256=digest.hexdigest(),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            content_type=response.headers.get("Content-Type"),
        )


def _socket_of(response: requests.Response) -> socket.socket | None:
    sock: socket.socket | None = getattr(getattr(response.raw, "connection", None), "sock", None)
    return sock


def _environment_proxies(url: str) -> dict[str, str]:
    """The proxies the environment names for this URL's origin (honouring no_proxy)."""
    parts = urlsplit(url)
    return _proxies_for_origin(f"{parts.scheme}://{parts.netloc}/")


@functools.lru_cache(maxsize=256)
def _proxies_for_origin(origin: str) -> dict[str, str]:
    return dict(requests.utils.get_environ_proxies(origin))


def _content_length(response: requests.Response) -> int | None:
    """The declared body size, when it describes the bytes we will receive (no compression)."""
    if response.headers.get("Content-Encoding", "identity").lower() != "identity":
        return None
    try:
        value = int(response.headers.get("Content-Length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def _describe(error: Exception, timeout: float) -> RefreshError:
    text = redact_text(str(error))
    match error:
        case requests.exceptions.Timeout():
            return RefreshError(FailureReason.TIMEOUT, f"no answer within {timeout:g} s")
        case requests.exceptions.TooManyRedirects():
            return RefreshError(FailureReason.REDIRECT, "too many redirects (a redirect loop?)")
        case requests.exceptions.InvalidSchema():
            return RefreshError(
                FailureReason.REDIRECT, "redirected to a URL that is not http or https"
            )
        case requests.exceptions.InvalidURL() | requests.exceptions.MissingSchema():
            return RefreshError(FailureReason.BAD_URL, f"not a valid URL ({text})")
        case (
            requests.exceptions.ChunkedEncodingError() | requests.exceptions.ContentDecodingError()
        ):
            return RefreshError(
                FailureReason.TRUNCATED, "the connection broke before the whole body arrived"
            )
        case requests.exceptions.ConnectionError() if "timed out" in text.lower():
            return RefreshError(FailureReason.TIMEOUT, f"no data for {timeout:g} s")
        case requests.exceptions.ConnectionError():
            return RefreshError(FailureReason.NETWORK, _connection_problem(text))
        case requests.exceptions.RequestException():
            return RefreshError(FailureReason.NETWORK, f"the download failed ({text})")
        case OSError():
            return RefreshError(FailureReason.DISK, f"cannot write the download ({error})")
    return RefreshError(
        FailureReason.NETWORK, f"the download failed ({type(error).__name__}: {text})"
    )


def _connection_problem(text: str) -> str:
    lowered = text.lower()
    if (
        "name or service not known" in lowered
        or "nodename nor servname" in lowered
        or "getaddrinfo" in lowered
    ):
        return "the host name could not be resolved"
    if "refused" in lowered:
        return "the server refused the connection"
    if "reset" in lowered or "aborted" in lowered or "remote end closed" in lowered:
        return "the server closed the connection"
    return "could not connect to the server"
