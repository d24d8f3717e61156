"""The "never lose an image" promise: whatever goes wrong, the previous file stays as it was.

Every case first caches a good image, then makes the server (or the disk) misbehave and forces a
refresh: the result must say FAILED with the right reason and a sentence naming the cause, the old
file must keep its bytes and its st_mtime_ns, no temporary may be left, and the manifest must
record the failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.cache import ImageCache
from core.cancellation import Cancellation
from core.models import Action, FailureReason, ImageEntry, RefreshMode, RefreshResult
from core.storage import CacheDirError
from tests.server import (
    LoopbackServer,
    Responder,
    image,
    jpeg_bytes,
    noisy_jpeg,
    png_bomb,
    png_bytes,
    redirect,
    reset,
    send,
    sequence,
    serve,
    stall,
    unsized,
)

ROUTE = "/hero.jpg"
GOOD = jpeg_bytes((200, 30, 30))
NEW = jpeg_bytes((20, 40, 220))
HTML_PAGE = b"<!DOCTYPE html>\n<html><head><title>Oops</title></head><body>Not here</body></html>"
GARBAGE = random.Random(1234).randbytes(8192)


@dataclass(frozen=True)
class Previous:
    """A good image cached before the failure, with the facts that must survive it."""

    url: str
    entry: ImageEntry
    path: Path
    content: bytes
    mtime_ns: int
    inode: int
    requests_so_far: int


def cache_good_image(server: LoopbackServer, cache: ImageCache, route: str = ROUTE) -> Previous:
    url = server.route(route, image(GOOD))
    (entry,) = cache.add_urls([url], "events")
    first = cache.refresh(entry, RefreshMode.MISSING)
    assert first.action is Action.DOWNLOADED, first.error
    assert first.path is not None and first.path.read_bytes() == GOOD
    stat = first.path.stat()
    return Previous(
        url,
        entry,
        first.path,
        GOOD,
        stat.st_mtime_ns,
        stat.st_ino,
        len(server.requests_for(route)),
    )


def assert_previous_kept(
    cache: ImageCache,
    previous: Previous,
    result: RefreshResult,
    reason: FailureReason,
    words: tuple[str, ...],
    action: Action = Action.FAILED,
) -> None:
    # (1) the outcome
    assert result.action is action, (result.action, result.error)
    assert result.ok is False
    assert result.force_refresh is True
    # (2) the sentence names the cause
    assert result.error is not None
    assert any(word.lower() in result.error.lower() for word in words), result.error
    # (3) the machine-readable reason
    assert result.reason is reason, (result.reason, result.error)
    # (4) the previous file, byte for byte and with its old mtime, and the result says so
    assert previous.path.read_bytes() == previous.content
    stat = previous.path.stat()
    assert stat.st_mtime_ns == previous.mtime_ns
    assert stat.st_ino == previous.inode
    assert result.path == previous.path
    assert result.before_mtime == result.after_mtime == stat.st_mtime
    sha256 = hashlib.sha256(previous.content).hexdigest()
    assert result.before_sha256 == result.after_sha256 == sha256
    assert [p.name for p in previous.path.parent.iterdir()] == [previous.path.name]
    # (5) no temporary download left behind
    assert cache.storage.temporaries() == []
    # (6) the manifest records the failure and still points at the old file
    recorded = cache.manifest.by_url(previous.url)
    assert recorded is not None
    assert recorded.last_outcome == action.value
    assert recorded.last_error == result.error
    assert cache.path_of(recorded) == previous.path
    assert recorded.sha256 == sha256 and recorded.size == len(previous.content)
    newest = cache.history(recorded)[0]
    assert newest.outcome == action.value
    assert newest.error == result.error
    assert newest.force_refresh is True and newest.mode == "force"
    assert newest.before_sha256 == newest.after_sha256 == sha256


@dataclass(frozen=True)
class Case:
    responder: Callable[[str], Responder]
    """Builds the misbehaving responder; gets the route's own URL (for redirect loops)."""
    reason: FailureReason
    words: tuple[str, ...]
    """At least one must appear in the error sentence."""
    attempts: int | None = None
    """How many requests the failing refresh must make (None: not checked)."""
    settings: dict[str, Any] = field(default_factory=dict)
    marks: tuple[pytest.MarkDecorator, ...] = ()


SMALL_LIMIT = 5_000
BIG_BODY = noisy_jpeg((200, 150))  # a valid image, well over SMALL_LIMIT
RETRIES = 2  # fast_settings

CASES = {
    "404": Case(
        lambda url: send(404, b"<html>gone</html>", "text/html"),
        FailureReason.HTTP_STATUS,
        ("404",),
        attempts=1,
    ),
    "500": Case(
        lambda url: send(500, b"<html>boom</html>", "text/html"),
        FailureReason.HTTP_STATUS,
        ("500",),
        attempts=1,
    ),
    "503-forever": Case(
        lambda url: send(503, b"busy", "text/plain"),
        FailureReason.HTTP_STATUS,
        ("503",),
        attempts=RETRIES + 1,
    ),
    "body-shorter-than-content-length": Case(
        lambda url: send(200, GOOD[: len(GOOD) // 2], declared_length=len(GOOD)),
        FailureReason.TRUNCATED,
        ("cut short", "truncated", "before the whole body arrived"),
        attempts=1,
    ),
    "html-page-sent-as-jpeg": Case(
        lambda url: send(200, HTML_PAGE, "image/jpeg"),
        FailureReason.NOT_AN_IMAGE,
        ("HTML",),
        attempts=1,
    ),
    "random-garbage": Case(
        lambda url: send(200, GARBAGE, "image/jpeg"),
        FailureReason.NOT_AN_IMAGE,
        ("not a recognised image",),
        attempts=1,
    ),
    "truncated-jpeg": Case(
        lambda url: send(200, BIG_BODY[: len(BIG_BODY) * 6 // 10], "image/jpeg"),
        FailureReason.NOT_AN_IMAGE,
        ("truncated",),
        attempts=1,
    ),
    "read-stall-past-timeout": Case(
        lambda url: stall(BIG_BODY, after=100, seconds=2.0),
        FailureReason.TIMEOUT,
        ("no data", "timed out", "no answer"),
        attempts=1,
        settings={"timeout": 0.5},
    ),
    "connection-reset": Case(
        lambda url: reset,
        FailureReason.NETWORK,
        ("closed the connection", "reset"),
        attempts=RETRIES + 1,
    ),
    "redirect-loop": Case(
        redirect,  # to its own URL
        FailureReason.REDIRECT,
        ("redirect",),
    ),
    "redirect-to-file-url": Case(
        lambda url: redirect("file:///etc/passwd"),
        FailureReason.REDIRECT,
        ("redirect",),
        attempts=1,
    ),
    "over-max-bytes-declared": Case(
        lambda url: send(200, BIG_BODY, "image/jpeg"),
        FailureReason.TOO_LARGE,
        ("limit",),
        attempts=1,
        settings={"max_bytes": SMALL_LIMIT},
    ),
    "over-max-bytes-chunked": Case(
        lambda url: unsized(BIG_BODY, chunked=True),
        FailureReason.TOO_LARGE,
        ("limit",),
        attempts=1,
        settings={"max_bytes": SMALL_LIMIT},
    ),
    "over-max-bytes-until-close": Case(
        lambda url: unsized(BIG_BODY, chunked=False),
        FailureReason.TOO_LARGE,
        ("limit",),
        attempts=1,
        settings={"max_bytes": SMALL_LIMIT},
    ),
    "decompression-bomb": Case(
        lambda url: send(200, png_bomb(), "image/png"),
        FailureReason.TOO_MANY_PIXELS,
        ("decompression",),
        attempts=1,
    ),
    "bomb-refused-even-when-pillow-only-warns": Case(
        # 100 M pixels: above Pillow's warning threshold, below its hard error; with the
        # warning silenced, the refusal must come from the cache's own pixel limit.
        lambda url: send(200, png_bomb(10_000, 10_000), "image/png"),
        FailureReason.TOO_MANY_PIXELS,
        ("too large",),
        attempts=1,
        marks=(pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),),
    ),
    "pixels-over-max-pixels-setting": Case(
        lambda url: send(200, png_bytes(size=(100, 100)), "image/png"),
        FailureReason.TOO_MANY_PIXELS,
        ("too large",),
        attempts=1,
        settings={"max_pixels": 64 * 48},  # just enough for the cached image
    ),
}


@pytest.fixture
def cache(make_cache: Callable[..., ImageCache]) -> ImageCache:
    return make_cache()


@pytest.mark.warnings_expected  # failed refreshes log a WARNING
@pytest.mark.parametrize(
    "case", [pytest.param(case, id=name, marks=case.marks) for name, case in CASES.items()]
)
def test_failed_force_refresh_keeps_the_previous_file(
    case: Case, server: LoopbackServer, make_cache: Callable[..., ImageCache]
) -> None:
    cache = make_cache(**case.settings)
    previous = cache_good_image(server, cache)
    server.route(ROUTE, case.responder(previous.url))

    result = cache.refresh(previous.entry, RefreshMode.FORCE)

    assert_previous_kept(cache, previous, result, case.reason, case.words)
    if case.attempts is not None:
        made = len(server.requests_for(ROUTE)) - previous.requests_so_far
        assert made == case.attempts


@pytest.mark.parametrize(
    "transient",
    [
        pytest.param(send(503, b"busy", "text/plain"), id="503-then-ok"),
        pytest.param(
            send(429, b"slow down", "text/plain", {"Retry-After": "0"}),
            id="429-retry-after-0-then-ok",
        ),
    ],
)
def test_transient_errors_are_retried_and_then_refresh(
    transient: Responder, server: LoopbackServer, cache: ImageCache
) -> None:
    previous = cache_good_image(server, cache)
    server.route(ROUTE, sequence(transient, image(NEW)))

    result = cache.refresh(previous.entry, RefreshMode.FORCE)

    assert result.action is Action.REFRESHED, result.error
    assert result.ok and result.error is None and result.reason is None
    assert len(server.requests_for(ROUTE)) - previous.requests_so_far == 2
    assert result.path == previous.path
    assert previous.path.read_bytes() == NEW
    stat = previous.path.stat()
    assert stat.st_ino != previous.inode  # a new file, renamed into place
    assert stat.st_mtime_ns >= previous.mtime_ns
    assert result.before_mtime is not None and result.after_mtime == stat.st_mtime
    assert cache.storage.temporaries() == []
    recorded = cache.manifest.by_url(previous.url)
    assert recorded is not None and recorded.last_outcome == "refreshed"
    assert recorded.sha256 == hashlib.sha256(NEW).hexdigest()


@pytest.mark.warnings_expected  # failed refreshes log a WARNING
def test_unreachable_host_keeps_the_previous_file(cache: ImageCache) -> None:
    # A server of its own, closed after the first download: its port then refuses connections.
    servers = serve(LoopbackServer("127.0.0.1", 0))
    gone = next(servers)
    try:
        url = gone.route(ROUTE, send(200, GOOD, "image/jpeg", {"Connection": "close"}))
        (entry,) = cache.add_urls([url], "events")
        first = cache.refresh(entry, RefreshMode.MISSING)
        assert first.action is Action.DOWNLOADED and first.path is not None
    finally:
        servers.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", gone.port), timeout=2).close()
    stat = first.path.stat()
    previous = Previous(url, entry, first.path, GOOD, stat.st_mtime_ns, stat.st_ino, 1)

    result = cache.refresh(entry, RefreshMode.FORCE)

    assert_previous_kept(
        cache, previous, result, FailureReason.NETWORK, ("refused", "could not connect")
    )


def test_cancel_before_the_download_makes_no_request(
    server: LoopbackServer, cache: ImageCache
) -> None:
    previous = cache_good_image(server, cache)
    server.route(ROUTE, image(NEW))
    cancel = Cancellation()
    cancel.set()

    result = cache.refresh(previous.entry, RefreshMode.FORCE, cancel=cancel)

    assert_previous_kept(
        cache, previous, result, FailureReason.CANCELLED, ("cancel",), Action.CANCELLED
    )
    assert len(server.requests_for(ROUTE)) == previous.requests_so_far


def test_cancel_while_the_download_stalls_keeps_the_previous_file(
    server: LoopbackServer, make_cache: Callable[..., ImageCache]
) -> None:
    # The timeout is longer than the stall: only the cancel can explain a cancelled result.
    cache = make_cache(timeout=10.0)
    previous = cache_good_image(server, cache)
    cancel = Cancellation()
    # The server sets the event itself once part of the body is on its way, then stalls.
    server.route(ROUTE, stall(BIG_BODY, after=1000, seconds=1.0, started=cancel))

    result = cache.refresh(previous.entry, RefreshMode.FORCE, cancel=cancel)

    assert cancel.is_set()
    assert_previous_kept(
        cache, previous, result, FailureReason.CANCELLED, ("cancel",), Action.CANCELLED
    )


DISK_FULL_SCRIPT = """
import json, resource, signal, sys
from pathlib import Path
from core.cache import ImageCache
from core.models import RefreshMode
from core.settings import RefreshSettings

cache_dir, url, limit = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
with ImageCache(cache_dir, RefreshSettings(retries=0, timeout=10)) as cache:
    entry = cache.manifest.by_url(url)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    result = cache.refresh(entry, RefreshMode.FORCE)
    leftovers = [str(p) for p in cache.storage.temporaries()]
print(json.dumps({"action": result.action.value, "reason": result.reason,
                  "error": result.error, "leftovers": leftovers}))
"""


@pytest.mark.warnings_expected  # failed refreshes log a WARNING
@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX only")
def test_disk_write_failure_keeps_the_previous_file(
    server: LoopbackServer, cache: ImageCache, cache_dir: Path
) -> None:
    previous = cache_good_image(server, cache)
    limit = 256 * 1024  # room for the manifest, not for the download
    big = noisy_jpeg((800, 800))
    assert len(big) > 2 * limit
    server.route(ROUTE, image(big))

    child = subprocess.run(
        [sys.executable, "-c", DISK_FULL_SCRIPT, str(cache_dir), previous.url, str(limit)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[1],
        check=False,
    )

    assert child.returncode == 0, child.stderr
    outcome = json.loads(child.stdout)
    assert outcome["action"] == "failed", outcome
    assert outcome["reason"] == FailureReason.DISK.value, outcome
    assert "write" in outcome["error"] and "too large" in outcome["error"].lower(), outcome
    assert outcome["leftovers"] == []
    assert len(server.requests_for(ROUTE)) == previous.requests_so_far + 1
    assert previous.path.read_bytes() == previous.content
    assert previous.path.stat().st_mtime_ns == previous.mtime_ns
    assert cache.storage.temporaries() == []
    recorded = cache.manifest.by_url(previous.url)
    assert recorded is not None and recorded.last_outcome == "failed"
    assert recorded.last_error == outcome["error"]
    newest = cache.history(recorded)[0]
    assert newest.outcome == "failed" and newest.error == outcome["error"]


def test_cache_dir_that_is_a_file_is_refused_clearly(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_bytes(b"precious")

    with pytest.raises(CacheDirError, match="is not a folder") as raised:
        ImageCache(not_a_folder).open()

    assert str(not_a_folder) in str(raised.value)
    assert not_a_folder.is_file() and not_a_folder.read_bytes() == b"precious"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="runs as root, where chmod does not stop writes (see the cache-dir-is-a-file test)",
)
def test_read_only_cache_folders_keep_the_previous_file(
    server: LoopbackServer, cache: ImageCache
) -> None:
    previous = cache_good_image(server, cache)
    server.route(ROUTE, image(NEW))
    folders = [cache.root, previous.path.parent]
    for folder in folders:
        folder.chmod(0o555)
    try:
        result = cache.refresh(previous.entry, RefreshMode.FORCE)
    finally:
        for folder in folders:
            folder.chmod(0o755)

    assert_previous_kept(
        cache, previous, result, FailureReason.DISK, ("permission", "cannot store")
    )
