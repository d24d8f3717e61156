"""`image-refresh scan`: every health class found on a real cache, --repair against a real
loopback server, the verdict memory, batches in worker processes, cancel."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from core.cache import ImageCache
from core.cancellation import Cancellation
from core.health import Health, classify_file
from core.health_memory import FILE_NAME
from core.models import ImageEntry
from core.settings import RefreshSettings
from tests.cli_run import RESULT_KEYS, run_main
from tests.health_fixtures import (
    CASES,
    HTML_WITH_BOM,
    HealthCache,
    avif_bytes,
    file_states,
    gif_bytes,
    make_health_cache,
)
from tests.server import LoopbackServer, jpeg_bytes, noisy_jpeg, png_bytes

SCAN_KEYS = {*RESULT_KEYS, "health", "detail"}
MAX_PIXELS = RefreshSettings().max_pixels


def records_of(stdout: str) -> dict[str, dict[str, Any]]:
    """--json lines by path; each holds the v1 keys plus health and detail."""
    records = {}
    for line in stdout.splitlines():
        record = json.loads(line)
        assert set(record) >= SCAN_KEYS, record
        assert record["ok"] == (record["health"] == "ok") or "health_after" in record
        assert Path(record["path"]).is_absolute()
        records[record["path"]] = record
    return records


@pytest.fixture
def health_cache(cache_dir: Path, server: LoopbackServer) -> HealthCache:
    return make_health_cache(cache_dir, server)


# --- one file at a time ---------------------------------------------------------------------


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def progressive_jpeg() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((120, 90), 80).convert("RGB").save(out, "JPEG", progressive=True, quality=90)
    return out.getvalue()


def restart_jpeg() -> bytes:
    """A JPEG with restart markers (FFD0-FFD7) inside its scan data."""
    out = io.BytesIO()
    Image.effect_noise((128, 96), 80).convert("RGB").save(out, "JPEG", restart_marker_blocks=2)
    data = out.getvalue()
    assert b"\xff\xd0" in data
    return data


@pytest.mark.parametrize(
    ("name", "data", "health"),
    [
        ("photo.jpg", noisy_jpeg(), Health.OK),
        ("photo.jpeg", jpeg_bytes(), Health.OK),
        ("pixel.jpg", jpeg_bytes(size=(1, 1)), Health.OK),
        ("progressive.jpg", progressive_jpeg(), Health.OK),
        ("restarts.jpg", restart_jpeg(), Health.OK),
        ("trailing-bytes.jpg", noisy_jpeg() + b"\x00" * 100, Health.OK),
        ("anim.gif", gif_bytes(), Health.OK),
        ("pic.avif", avif_bytes(), Health.OK),
        ("page.jpg", HTML_WITH_BOM, Health.NOT_AN_IMAGE),
        ("text.png", b"just some words, not a picture\n", Health.NOT_AN_IMAGE),
        ("zeros.jpg", b"\x00" * 4096, Health.NOT_AN_IMAGE),
        ("zero.jpg", b"", Health.EMPTY),
        ("half.jpg", noisy_jpeg()[: len(noisy_jpeg()) // 2], Health.TRUNCATED),
        ("almost.jpg", noisy_jpeg()[: len(noisy_jpeg()) * 99 // 100], Health.TRUNCATED),
        ("no-eoi.jpg", noisy_jpeg()[:-2], Health.TRUNCATED),
        ("no-iend.png", png_bytes()[:-12], Health.TRUNCATED),
        ("no-trailer.gif", gif_bytes()[:-1], Health.TRUNCATED),
        ("short.avif", avif_bytes()[: len(avif_bytes()) // 2], Health.TRUNCATED),
        ("png-as.jpg", png_bytes(), Health.WRONG_EXTENSION),
        ("jpeg-as.png", jpeg_bytes(), Health.WRONG_EXTENSION),
        ("no-extension", jpeg_bytes(), Health.WRONG_EXTENSION),
    ],
)
@pytest.mark.parametrize("thorough", [False, True], ids=["quick", "thorough"])
def test_a_file_gets_its_health(
    tmp_path: Path, name: str, data: bytes, health: Health, thorough: bool
) -> None:
    path = write(tmp_path, name, data)
    before = path.stat().st_mtime_ns
    verdict = classify_file(path, MAX_PIXELS, thorough=thorough)
    assert verdict.health is health, verdict
    assert verdict.detail
    assert verdict.size == len(data)
    assert path.stat().st_mtime_ns == before and path.read_bytes() == data  # read, not written


def test_too_many_pixels_is_too_large_with_the_limit_given(tmp_path: Path) -> None:
    path = write(tmp_path, "big.jpg", jpeg_bytes(size=(300, 200)))
    assert classify_file(path, MAX_PIXELS).health is Health.OK
    verdict = classify_file(path, 300 * 200 - 1)
    assert verdict.health is Health.TOO_LARGE
    assert "300×200" in verdict.detail


def test_wrong_extension_says_what_the_file_really_is(tmp_path: Path) -> None:
    verdict = classify_file(write(tmp_path, "logo.jpg", png_bytes(size=(40, 30))), MAX_PIXELS)
    assert verdict.health is Health.WRONG_EXTENSION
    assert verdict.format == "PNG"
    assert "PNG" in verdict.detail and ".jpg" in verdict.detail and ".png" in verdict.detail


def test_an_unusual_jpeg_header_is_left_to_the_decoder(tmp_path: Path) -> None:
    """The structural proof stands only for 8-bit baseline or progressive JPEGs; a frame
    header that claims another precision goes to the decoder, which refuses it."""
    data = bytearray(jpeg_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 4] = 12  # 12-bit samples, which Pillow cannot decode
    verdict = classify_file(write(tmp_path, "twelve.jpg", bytes(data)), MAX_PIXELS)
    assert verdict.health is Health.NOT_AN_IMAGE
    assert verdict.detail == "the JPEG image is damaged"


def test_a_missing_file_is_missing(tmp_path: Path) -> None:
    verdict = classify_file(tmp_path / "gone.jpg", MAX_PIXELS)
    assert verdict.health is Health.MISSING
    assert verdict.size is None


@settings(max_examples=60, deadline=None)
@given(fraction=st.floats(min_value=0.01, max_value=0.9999))
def test_a_jpeg_cut_anywhere_is_never_ok(
    tmp_path_factory: pytest.TempPathFactory, fraction: float
) -> None:
    data = noisy_jpeg((96, 64), seed=3)
    cut_at = max(3, min(len(data) - 1, int(len(data) * fraction)))
    path = tmp_path_factory.mktemp("cut") / "cut.jpg"
    path.write_bytes(data[:cut_at])
    assert classify_file(path, MAX_PIXELS).health in (Health.TRUNCATED, Health.NOT_AN_IMAGE)


# --- the command line on a fixture cache ----------------------------------------------------


def test_scan_finds_every_health_class_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], health_cache: HealthCache, server: LoopbackServer
) -> None:
    before = file_states(health_cache.root)
    requests_before = len(server.seen)
    code, out, err = run_main(
        capsys, "scan", "--all", "--json", "--cache-dir", str(health_cache.root)
    )
    records = records_of(out)
    assert {path: Health(r["health"]) for path, r in records.items()} == health_cache.expected()
    assert code == 1  # some files are not whole
    assert file_states(health_cache.root) == before  # nothing written into any image
    assert len(server.seen) == requests_before  # and no request made
    for record in records.values():
        assert record["action"] == "scanned"
        assert record["ok"] == (record["health"] == "ok")
        assert record["error"] is None if record["ok"] else record["error"] == record["detail"]
    gone = records[str(health_cache.paths["gone.jpg"])]
    assert gone["bytes"] is None and gone["before_mtime"] is None
    assert "14 scanned" in err


def test_scan_table_says_each_problem_in_words(
    capsys: pytest.CaptureFixture[str], health_cache: HealthCache
) -> None:
    code, out, _ = run_main(capsys, "scan", "--all", "--cache-dir", str(health_cache.root))
    assert code == 1
    assert "an HTML page, not an image" in out
    assert "the JPEG image is truncated" in out
    assert "the file is empty (0 bytes)" in out
    assert "a PNG image saved as .jpg (should be .png)" in out
    assert "no source URL: cannot be repaired" in out


def test_repair_refreshes_the_broken_files_and_leaves_the_rest_untouched(
    capsys: pytest.CaptureFixture[str], health_cache: HealthCache, server: LoopbackServer
) -> None:
    before = file_states(health_cache.root)
    code, out, _ = run_main(
        capsys, "scan", "--all", "--repair", "--json", "--cache-dir", str(health_cache.root)
    )
    assert code == 1  # the file without a source is still broken
    records = records_of(out)
    orphan = records.pop(str(health_cache.orphan))
    assert orphan["health"] == "truncated" and orphan["action"] == "scanned"
    assert orphan["ok"] is False
    assert (
        before[str(health_cache.orphan)] == file_states(health_cache.root)[str(health_cache.orphan)]
    )
    cases = {str(health_cache.paths[c.name]): c for c in CASES}
    for path, record in records.items():
        case = cases[path]
        requests = server.requests_for(f"/img/{case.name}")
        if case.health is Health.OK:
            assert record["action"] == "scanned" and len(requests) == 1  # the first download
            assert file_states(health_cache.root)[path] == before[path]
            continue
        assert record["health"] == case.health.value  # what the scan found
        assert record["action"] == "refreshed", record
        assert record["ok"] and record["health_after"] == "ok" and record["error"] is None
        assert len(requests) == 2
        assert requests[-1].headers.get("Cache-Control") == "no-cache"  # a force refresh
        assert Path(path).read_bytes() == case.served
        assert record["after_mtime"] > (record["before_mtime"] or 0)
    # A new scan finds every file whole but the one without a source.
    code, out, _ = run_main(
        capsys, "scan", "--all", "--json", "--cache-dir", str(health_cache.root)
    )
    broken = [path for path, record in records_of(out).items() if not record["ok"]]
    assert code == 1 and broken == [str(health_cache.orphan)]


@pytest.mark.warnings_expected  # the failed refresh's own warning
def test_a_repair_that_fails_keeps_the_file_and_exits_1(
    capsys: pytest.CaptureFixture[str], health_cache: HealthCache, server: LoopbackServer
) -> None:
    half = health_cache.paths["half.jpg"]
    kept = half.read_bytes(), half.stat().st_mtime_ns
    server.route("/img/half.jpg", lambda handler: handler.send_error(503))
    code, out, _ = run_main(
        capsys,
        "scan",
        str(half),
        "--repair",
        "--json",
        "--retries",
        "0",
        "--cache-dir",
        str(health_cache.root),
    )
    assert code == 1
    (record,) = records_of(out).values()
    assert record["action"] == "failed" and record["ok"] is False and record["error"]
    assert record["health_after"] == "truncated"
    assert (half.read_bytes(), half.stat().st_mtime_ns) == kept


def test_scan_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], health_cache: HealthCache
) -> None:
    root = str(health_cache.root)
    assert run_main(capsys, "scan", "--cache-dir", root)[0] == 2  # no targets
    assert run_main(capsys, "scan", "nope.jpg", "--cache-dir", root)[0] == 2
    code, _, err = run_main(capsys, "scan", "--all", "--report", "x.txt", "--cache-dir", root)
    assert code == 2 and ".csv or .html" in err
    assert not Path("x.txt").exists()


def test_scan_of_a_category_and_of_named_targets(
    capsys: pytest.CaptureFixture[str], health_cache: HealthCache
) -> None:
    root = str(health_cache.root)
    hero = health_cache.urls["hero.jpg"]
    code, out, _ = run_main(capsys, "scan", hero, "--json", "--cache-dir", root)
    assert code == 0
    (record,) = records_of(out).values()
    assert record["url"] == hero and record["health"] == "ok"
    code, out, _ = run_main(capsys, "scan", "--category", "venues", "--json", "--cache-dir", root)
    assert code == 0 and out == ""


# --- memory, processes, cancel --------------------------------------------------------------


@contextlib.contextmanager
def many_files(cache_dir: Path, count: int) -> Iterator[ImageCache]:
    """A cache of `count` tiny JPEGs, each different, known by their paths."""
    tiny = jpeg_bytes(size=(8, 8))
    with ImageCache(cache_dir) as cache:
        yield _filled(cache, tiny, count)


def _filled(cache: ImageCache, tiny: bytes, count: int) -> ImageCache:
    folder = cache.root / "photos"
    folder.mkdir()
    entries = []
    for index in range(count):
        name = f"photo-{index:05d}.jpg"
        # A comment segment makes every file different and keeps it whole.
        data = tiny[:2] + b"\xff\xfe\x00\x07" + index.to_bytes(5, "big") + tiny[2:]
        (folder / name).write_bytes(data)
        entries.append(ImageEntry(url=None, category="photos", rel_path=f"photos/{name}"))
    cache.manifest.add_scanned_files(entries)
    return cache


def test_a_second_scan_of_ten_thousand_unchanged_files_decodes_nothing(cache_dir: Path) -> None:
    with many_files(cache_dir, 10_000) as cache:
        first = cache.scan_health()
        verdicts = [record.health for record in first]
        assert verdicts == [Health.OK] * 10_000
        assert (first.counts.decoded, first.counts.remembered) == (10_000, 0)

        second = cache.scan_health()
        assert [record.health for record in second] == verdicts
        assert (second.counts.decoded, second.counts.remembered) == (0, 10_000)

        # A file that changed (a new mtime, other bytes) is read again; only that one.
        changed = cache.root / "photos" / "photo-00042.jpg"
        changed.write_bytes(b"<html>now an error page</html>")
        third = cache.scan_health()
        records = {record.path: record for record in third}
        assert (third.counts.decoded, third.counts.remembered) == (1, 9_999)
        assert records[changed].health is Health.NOT_AN_IMAGE


def test_a_remembered_verdict_needs_the_same_limit_and_depth(cache_dir: Path) -> None:
    with many_files(cache_dir, 3) as cache:
        list(cache.scan_health(processes=0))
        thorough = cache.scan_health(processes=0, thorough=True)
        list(thorough)
        assert thorough.counts.decoded == 3  # a quick verdict does not answer a thorough scan
        quick = cache.scan_health(processes=0)
        list(quick)
        assert quick.counts.decoded == 0  # a thorough one answers a quick scan


def test_a_damaged_scan_memory_is_made_anew(cache_dir: Path) -> None:
    with many_files(cache_dir, 5) as cache:
        list(cache.scan_health(processes=0))
        memory = cache.storage.state_dir / FILE_NAME
        for suffix in ("-wal", "-shm"):
            memory.with_name(memory.name + suffix).unlink(missing_ok=True)
        memory.write_bytes(b"this is not a database" * 100)
        again = cache.scan_health(processes=0)
        assert [r.health for r in again] == [Health.OK] * 5
        assert again.counts.decoded == 5
        with sqlite3.connect(memory) as db:
            assert db.execute("SELECT count(*) FROM verdicts").fetchone() == (5,)


def test_scan_in_worker_processes_agrees_with_one_thread(health_cache: HealthCache) -> None:
    with ImageCache(health_cache.root) as cache:
        entries = cache.entries() * 10  # enough targets for the worker processes
        in_workers = [r.health for r in cache.scan_health(entries, processes=2)]
        (cache.storage.state_dir / FILE_NAME).unlink()
        in_thread = [r.health for r in cache.scan_health(entries, processes=0)]
    assert sorted(in_workers) == sorted(in_thread)
    assert sorted(in_workers) == sorted(list(health_cache.expected().values()) * 10)


def test_a_cancelled_scan_stops_between_batches_and_keeps_what_it_found(cache_dir: Path) -> None:
    with many_files(cache_dir, 2_000) as cache:
        cancel = Cancellation()
        seen: list[int] = []

        def progress(done: int, total: int) -> None:
            seen.append(done)
            if done:
                cancel.set()

        scan = cache.scan_health(processes=2, cancel=cancel, progress=progress)
        records = list(scan)
        assert 0 < len(records) < 2_000
        assert seen[-1] == len(records)
        again = cache.scan_health(processes=0)
        list(again)
        assert again.counts.remembered == len(records)  # what the cancelled scan found is kept


def test_progress_counts_up_to_every_target(cache_dir: Path) -> None:
    with many_files(cache_dir, 300) as cache:
        seen: list[tuple[int, int]] = []
        list(
            cache.scan_health(processes=2, progress=lambda done, total: seen.append((done, total)))
        )
        assert seen[-1] == (300, 300)
        assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_the_scan_memory_lives_in_the_state_folder(cache_dir: Path) -> None:
    with many_files(cache_dir, 2) as cache:
        list(cache.scan_health(processes=0))
    assert (cache_dir / ".image-refresh" / FILE_NAME).is_file()
    assert sorted(os.listdir(cache_dir)) == [".image-refresh", "photos"]


def test_ctrl_c_ends_a_scan_within_a_second(cache_dir: Path) -> None:
    """Workers busy decoding large files stop with the scan; the command exits 130 at once."""
    out = io.BytesIO()
    Image.new("RGB", (5000, 5000)).save(out, "PNG")  # 75 MB of pixels in a 70 KB file
    with ImageCache(cache_dir) as cache:
        (cache.root / "maps").mkdir()
        for index in range(80):
            (cache.root / "maps" / f"map-{index}.png").write_bytes(out.getvalue())
        cache.manifest.add_scanned_files(
            ImageEntry(url=None, category="maps", rel_path=f"maps/map-{index}.png")
            for index in range(80)
        )
    command = Path(sys.executable).with_name("image-refresh")
    run = subprocess.Popen(
        [str(command), "scan", "--all", "--cache-dir", str(cache_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    memory = cache_dir / ".image-refresh" / FILE_NAME
    deadline = time.monotonic() + 30
    while not memory.exists():  # the scan has started: it read the memory
        assert run.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    stopped_at = time.monotonic()
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=30)
    assert time.monotonic() - stopped_at < 1.0
    assert run.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
