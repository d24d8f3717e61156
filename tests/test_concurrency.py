"""Refreshes of the same images at once, from threads and processes, and a kill -9 mid-run."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from PIL import Image

from core.cache import ImageCache
from core.models import Action, RefreshMode, RefreshResult
from core.settings import RefreshSettings
from core.storage import STATE_DIR_NAME
from tests.processes import kill_9, reaped
from tests.server import LoopbackServer, Responder

DEADLINE = 30.0
IMAGE_COUNT = 50


@dataclass
class Served:
    """One response of a VersionedImages responder."""

    body: bytes = field(repr=False)
    started: float
    finished: float | None = None


@dataclass
class VersionedImages:
    """Serves a different JPEG on every request (a version number in the pixels and a comment).

    With `stall`, half the body is sent, then nothing for `stall` seconds, then the rest.
    `noisy` pictures are large (over one 64 KiB read) so a stalled body is partly on disk.
    """

    stall: float = 0.0
    noisy: bool = False
    served: dict[str, list[Served]] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    _version: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def body(self, version: int) -> bytes:
        color = (version * 53 % 256, version * 97 % 256, 255 - version % 256)
        if self.noisy:
            picture = Image.frombytes("RGB", (450, 450), os.urandom(450 * 450 * 3))
            picture.paste(color, (0, 0, 40, 40))
        else:  # two colours: a single flat one would be refused as a placeholder
            picture = Image.new("RGB", (48, 32), color)
            picture.paste((0, 0, 0), (0, 0, 16, 16))
            picture.paste((255, 255, 255), (16, 0, 32, 16))
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=90, comment=f"version {version}".encode())
        return out.getvalue()

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self._version += 1
            version = self._version
        body = self.body(version)
        record = Served(body, time.monotonic())
        with self._lock:
            self.served.setdefault(handler.path, []).append(record)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "image/jpeg")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            half = len(body) // 2
            handler.wfile.write(body[:half])
            handler.wfile.flush()
            if self.stall:
                time.sleep(self.stall)
            handler.wfile.write(body[half:])
            handler.wfile.flush()
            record.finished = time.monotonic()
        except OSError:
            handler.close_connection = True  # the client went away (it was killed)
        finally:
            with self._lock:
                self.in_flight -= 1

    def last_body(self, path: str) -> bytes:
        return self.served[path][-1].body

    def complete_bodies(self, path: str) -> set[bytes]:
        return {s.body for s in self.served.get(path, []) if s.finished is not None}


def wait_for(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)


def decodes(content: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(content)) as picture:
            picture.load()
    except OSError:
        return False
    return True


def cli_command(*args: str) -> list[str]:
    """The installed `image-refresh` command (or its entry point run by this interpreter)."""
    script = Path(sys.executable).with_name("image-refresh")
    if script.is_file():
        return [str(script), *args]
    launcher = "import sys; from gui.launcher import main; sys.exit(main())"
    return [sys.executable, "-c", launcher, *args]


def force_refresh_all(cache_dir: Path, jobs: int = 8) -> list[str]:
    return cli_command(
        "refresh", "--force", "--all", "--jobs", str(jobs), "--cache-dir", str(cache_dir), "--json"
    )


def populate(
    server: LoopbackServer, cache_dir: Path, settings: RefreshSettings, responder: Responder
) -> dict[str, Path]:
    """IMAGE_COUNT images downloaded once; returns each server path's cached file."""
    paths = [f"/img/{i:02d}.jpg" for i in range(IMAGE_COUNT)]
    urls = {server.route(path, responder): path for path in paths}
    with ImageCache(cache_dir, settings) as cache:
        results = list(
            cache.refresh_many(cache.add_urls(list(urls), "events"), RefreshMode.MISSING)
        )
    assert all(r.action is Action.DOWNLOADED for r in results), [r.error for r in results]
    files = {urls[r.url]: r.path for r in results if r.url and r.path}
    assert len(files) == IMAGE_COUNT
    return files


def partial_downloads(folder: Path) -> list[Path]:
    found = []
    for part in folder.rglob("*.part"):
        try:
            if part.stat().st_size > 0:
                found.append(part)
        except FileNotFoundError:
            pass  # finished meanwhile
    return found


def json_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_two_threads_force_refreshing_one_image_take_turns(
    server: LoopbackServer, cache: ImageCache
) -> None:
    images = VersionedImages(stall=0.25)
    url = server.route("/slow.jpg", images)
    (entry,) = cache.add_urls([url], "events")
    first = cache.refresh(entry, RefreshMode.MISSING)
    assert first.action is Action.DOWNLOADED and first.path is not None
    start = threading.Barrier(2)
    results: list[RefreshResult] = []

    def force() -> None:
        start.wait()
        results.append(cache.refresh(entry, RefreshMode.FORCE))

    threads = [threading.Thread(target=force) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DEADLINE)
    assert not any(thread.is_alive() for thread in threads)

    assert [r.action for r in results] == [Action.REFRESHED] * 2, [r.error for r in results]
    content = first.path.read_bytes()
    assert decodes(content) and content == images.last_body("/slow.jpg")
    served = images.served["/slow.jpg"]
    assert len(served) == 3
    for earlier, later in itertools.pairwise(served):
        assert earlier.finished is not None and earlier.finished <= later.started  # one at a time
    assert images.max_in_flight == 1
    history = cache.history(entry)
    assert [h.outcome for h in history] == ["refreshed", "refreshed", "downloaded"]
    for newer, older in itertools.pairwise(history):
        assert newer.before_mtime == older.after_mtime
        assert newer.before_sha256 == older.after_sha256
        assert newer.after_sha256 != older.after_sha256  # a new version each time
    assert history[0].after_sha256 == hashlib.sha256(content).hexdigest()
    earlier_result, later_result = sorted(results, key=lambda r: r.after_mtime or 0)
    assert later_result.before_sha256 == earlier_result.after_sha256


@pytest.mark.slow
def test_two_processes_force_refreshing_the_same_images_at_once(
    server: LoopbackServer, cache_dir: Path, fast_settings: RefreshSettings
) -> None:
    images = VersionedImages(stall=0.1)
    files = populate(server, cache_dir, fast_settings, images)

    processes = [
        subprocess.Popen(
            force_refresh_all(cache_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=DEADLINE * 2) for p in processes]

    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
        lines = json_lines(stdout)
        assert len(lines) == IMAGE_COUNT
        assert {line["action"] for line in lines} == {"refreshed"}
        assert all(line["ok"] is True and line["error"] is None for line in lines)
    assert images.max_in_flight > 8  # both processes were downloading at the same time
    assert sum(len(s) for s in images.served.values()) == 3 * IMAGE_COUNT
    assert list(cache_dir.rglob("*.part")) == []
    assert not any((cache_dir / STATE_DIR_NAME / "tmp").glob("session-*"))
    with ImageCache(cache_dir, fast_settings) as cache:
        refreshed = 0
        for entry in cache.entries():
            path = cache.path_of(entry)
            assert path is not None and entry.url is not None
            server_path = entry.url.removeprefix(server.url(""))
            assert path == files[server_path]
            content = path.read_bytes()
            assert decodes(content)
            assert content == images.last_body(server_path)  # the later refresh won, whole
            assert entry.sha256 == hashlib.sha256(content).hexdigest()
            history = cache.history(entry)
            assert [h.outcome for h in history] == ["refreshed", "refreshed", "downloaded"]
            for newer, older in itertools.pairwise(history):
                assert newer.before_mtime == older.after_mtime  # serialized, never interleaved
                assert newer.before_sha256 == older.after_sha256
            refreshed += sum(h.outcome == "refreshed" for h in history)
    assert refreshed == 2 * IMAGE_COUNT


@pytest.mark.slow
def test_kill_9_mid_refresh_leaves_old_or_new_images_and_stale_temporaries_are_cleaned(
    server: LoopbackServer,
    cache_dir: Path,
    fast_settings: RefreshSettings,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    files = populate(server, cache_dir, fast_settings, VersionedImages(noisy=True))
    old = {path: file.read_bytes() for path, file in files.items()}
    slow = VersionedImages(stall=1.5, noisy=True)
    for path in files:
        server.route(path, slow)
    tmp_root = cache_dir / STATE_DIR_NAME / "tmp"
    seen_before = len(server.seen)

    with (tmp_path / "killed.out").open("w") as out:
        victim = subprocess.Popen(force_refresh_all(cache_dir), stdout=out, stderr=out)
    with reaped(victim):
        # A download slot is given back once the body has arrived, before the image is checked
        # and stored, so the run is only under way once a file has really been replaced.
        wait_for(lambda: len(server.seen) - seen_before >= 12, "the run to get under way")
        wait_for(
            lambda: any(file.read_bytes() != old[path] for path, file in files.items()),
            "a first image to be replaced",
        )
        wait_for(lambda: slow.in_flight >= 4, "bodies streaming")
        wait_for(lambda: bool(partial_downloads(tmp_root)), "half-written temporaries")
        partial = partial_downloads(tmp_root)
        kill_9(victim)

    assert partial, "the kill should land while bodies are half written"
    replaced = 0
    for path, file in files.items():
        content = file.read_bytes()  # the file is always there
        if content != old[path]:
            assert content in slow.complete_bodies(path), f"{file.name} is partial or foreign"
            assert decodes(content)
            replaced += 1
    assert 0 < replaced < IMAGE_COUNT  # killed mid-way: some new, some old
    assert sorted((cache_dir / "events").iterdir()) == sorted(files.values())
    assert list(tmp_root.rglob("*.part")), "the killed run leaves temporaries behind"

    caplog.set_level(logging.INFO, logger="core")
    with ImageCache(cache_dir, fast_settings) as reopened:
        assert reopened.storage.temporaries() == []
        sessions = [p for p in tmp_root.glob("session-*") if p.is_dir()]
        locks = list(tmp_root.glob("session-*.lock"))
        assert len(sessions) == 1 and list(sessions[0].iterdir()) == []
        assert locks == [sessions[0].with_suffix(".lock")]
        assert any("stale temporary" in r.getMessage() for r in caplog.records)

    fast = VersionedImages()
    for path in files:
        server.route(path, fast)
    done = subprocess.run(
        force_refresh_all(cache_dir), capture_output=True, text=True, timeout=DEADLINE, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = json_lines(done.stdout)
    assert len(lines) == IMAGE_COUNT and {line["action"] for line in lines} == {"refreshed"}
    for path, file in files.items():
        assert file.read_bytes() == fast.last_body(path)
    assert list(cache_dir.rglob("*.part")) == []
