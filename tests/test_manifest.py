"""The SQLite manifest: its format, damage and loss, and a core that never loads Qt widgets."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.cache import ImageCache
from core.manifest import SCHEMA_VERSION, Manifest, ManifestError
from core.models import Action, FailureReason, HistoryEntry, RefreshMode
from core.settings import RefreshSettings
from core.storage import STATE_DIR_NAME
from tests.server import LoopbackServer, image, jpeg_bytes, png_bytes

SUBPROCESS_TIMEOUT = 60


def manifest_path(cache_dir: Path) -> Path:
    return cache_dir / STATE_DIR_NAME / "manifest.sqlite3"


def snapshot(folder: Path) -> dict[str, tuple[bytes, float]]:
    """Every file outside the program's own folder, with its bytes and mtime."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and STATE_DIR_NAME not in p.relative_to(folder).parts
    }


def fill_cache(server: LoopbackServer, cache_dir: Path, settings: RefreshSettings) -> None:
    """Three downloaded images in two categories."""
    red = server.route("/Red%20Hero.jpg", image(jpeg_bytes((250, 0, 0), (64, 48))))
    blue = server.route("/blue.jpg", image(jpeg_bytes((0, 0, 250), (32, 16))))
    face = server.route("/face.png", image(png_bytes(size=(40, 30)), "image/png"))
    with ImageCache(cache_dir, settings) as cache:
        entries = cache.add_urls([red, blue], "events") + cache.add_urls([face], "performers")
        results = list(cache.refresh_many(entries, RefreshMode.MISSING))
    assert [r.action for r in results] == [Action.DOWNLOADED] * 3


def remove_manifest(cache_dir: Path) -> None:
    path = manifest_path(cache_dir)
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def test_manifest_is_sqlite_in_wal_mode_with_the_schema_version(cache: ImageCache) -> None:
    path = manifest_path(cache.root)
    assert cache.manifest.path == path and path.is_file()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert {"images", "history"} <= tables


def test_manifest_of_a_newer_schema_asks_to_update(
    cache_dir: Path, fast_settings: RefreshSettings
) -> None:
    ImageCache(cache_dir, fast_settings).open().close()
    with sqlite3.connect(manifest_path(cache_dir)) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")

    with pytest.raises(ManifestError, match=r"newer.*update") as raised:
        ImageCache(cache_dir, fast_settings).open()

    assert str(manifest_path(cache_dir)) in str(raised.value)
    with sqlite3.connect(manifest_path(cache_dir)) as db:  # left as it was
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_missing_manifest_is_rebuilt_from_the_files_on_disk(
    server: LoopbackServer,
    cache_dir: Path,
    fast_settings: RefreshSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fill_cache(server, cache_dir, fast_settings)
    (cache_dir / "Not A Category").mkdir()
    (cache_dir / "Not A Category" / "notes.txt").write_text("keep me")
    (cache_dir / "events" / ".hidden.jpg").write_bytes(jpeg_bytes())
    remove_manifest(cache_dir)
    before = snapshot(cache_dir)
    caplog.set_level(logging.INFO, logger="core")

    with ImageCache(cache_dir, fast_settings) as cache:
        entries = cache.entries()

        assert snapshot(cache_dir) == before  # nothing deleted, nothing touched
        assert any("rebuilt it from the 3 file(s)" in r.getMessage() for r in caplog.records), (
            caplog.text
        )
        assert len(entries) == 3
        by_name = {Path(e.rel_path or "").name.rsplit("-", 1)[0]: e for e in entries}
        assert set(by_name) == {"red-hero", "blue", "face"}
        expected = {"red-hero": (64, 48, "events"), "blue": (32, 16, "events")}
        expected["face"] = (40, 30, "performers")
        for name, (width, height, category) in expected.items():
            entry = by_name[name]
            content, mtime = before[entry.rel_path or ""]
            assert entry.url is None
            assert entry.category == category
            assert entry.rel_path is not None and entry.rel_path.startswith(f"{category}/")
            assert entry.size == len(content)
            assert entry.sha256 == hashlib.sha256(content).hexdigest()
            assert (entry.width, entry.height) == (width, height)
            assert entry.downloaded_at == mtime
        assert by_name["face"].content_type == "image/png"
        assert by_name["blue"].content_type == "image/jpeg"

        # A file with no known source cannot be force-refreshed, and is kept.
        result = cache.refresh(by_name["blue"], RefreshMode.FORCE)
        assert result.action is Action.FAILED and result.reason is FailureReason.NO_SOURCE
        assert snapshot(cache_dir) == before


@pytest.mark.warnings_expected  # the rebuilt manifest is announced with a WARNING
def test_empty_manifest_file_is_rebuilt_like_a_missing_one(
    server: LoopbackServer, cache_dir: Path, fast_settings: RefreshSettings
) -> None:
    fill_cache(server, cache_dir, fast_settings)
    remove_manifest(cache_dir)
    manifest_path(cache_dir).write_bytes(b"")  # e.g. cut short by a full disk
    before = snapshot(cache_dir)

    with ImageCache(cache_dir, fast_settings) as cache:
        entries = cache.entries()

    assert len(entries) == 3 and all(e.url is None for e in entries)
    assert snapshot(cache_dir) == before


def test_adding_a_url_twice_keeps_one_row_and_its_first_category(cache: ImageCache) -> None:
    url = "http://example.invalid/a.jpg"
    first = cache.add_urls([url, url], "events")
    again = cache.add_urls([url], "venues")

    assert [e.url for e in first] == [url]
    assert again == first
    assert [(e.url, e.category) for e in cache.entries()] == [(url, "events")]
    with sqlite3.connect(cache.manifest.path) as db:
        assert db.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 1


def test_remove_deletes_the_row_its_history_and_the_file(
    server: LoopbackServer, cache: ImageCache
) -> None:
    keep_url = server.route("/keep.jpg", image(jpeg_bytes((0, 250, 0))))
    gone_url = server.route("/gone.jpg", image(jpeg_bytes((250, 0, 0))))
    results = list(
        cache.refresh_many(cache.add_urls([keep_url, gone_url], "events"), RefreshMode.MISSING)
    )
    paths = {r.url: r.path for r in results}
    kept_path, gone_path = paths[keep_url], paths[gone_url]
    assert kept_path is not None and gone_path is not None and gone_path.exists()
    kept_bytes = kept_path.read_bytes()
    gone = cache.manifest.by_url(gone_url)
    assert gone is not None

    cache.remove(gone)

    assert not gone_path.exists()
    assert cache.manifest.by_url(gone_url) is None
    assert [e.url for e in cache.entries()] == [keep_url]
    assert kept_path.read_bytes() == kept_bytes
    with sqlite3.connect(cache.manifest.path) as db:
        assert db.execute("SELECT COUNT(*) FROM history").fetchone()[0] == 1  # keep.jpg's


def test_history_is_newest_first(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path / "manifest.sqlite3")
    assert manifest.open() is True
    (entry,) = manifest.add_urls({"http://example.invalid/h.jpg": []}, "events")
    (other,) = manifest.add_urls({"http://example.invalid/other.jpg": []}, "events")
    for at, outcome in [(100.0, "a"), (300.0, "b"), (200.0, "c"), (200.0, "d"), (50.0, "e")]:
        manifest.record_refresh(
            entry, HistoryEntry(at, "force", True, None, None, None, None, outcome, None)
        )
    manifest.record_refresh(
        other, HistoryEntry(999.0, "force", True, None, None, None, None, "other", None)
    )

    history = manifest.history(entry)

    assert [(h.at, h.outcome) for h in history] == [
        (300.0, "b"),
        (200.0, "d"),  # same time: the later record first
        (200.0, "c"),
        (100.0, "a"),
        (50.0, "e"),
    ]
    assert [h.outcome for h in manifest.history(entry, limit=2)] == ["b", "d"]
    assert all(h.force_refresh is True and h.mode == "force" for h in history)


def open_at_once(path: Path, count: int) -> tuple[list[bool], list[BaseException]]:
    """`Manifest(path).open()` from `count` threads released together."""
    barrier = threading.Barrier(count)
    created: list[bool] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        manifest = Manifest(path)
        barrier.wait()
        try:
            created.append(manifest.open())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SUBPROCESS_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    return created, errors


def test_many_first_opens_at_once_create_one_manifest(tmp_path: Path) -> None:
    """Several programs started on a new cache folder at the same moment all succeed."""
    for attempt in range(10):
        manifest_file = tmp_path / f"m{attempt}.sqlite3"

        created, errors = open_at_once(manifest_file, 6)

        assert errors == []
        assert sorted(created) == [False] * 5 + [True]  # exactly one of them created it
        with sqlite3.connect(manifest_file) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


IMPORT_EVERY_CORE_MODULE = """
import importlib, json, pkgutil, sys
import core
names = sorted(m.name for m in pkgutil.walk_packages(core.__path__, "core."))
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "loaded": sorted(sys.modules)}))
"""


def test_importing_every_core_module_loads_no_qt_widgets() -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_CORE_MODULE],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=True,
    )
    report = json.loads(done.stdout)
    assert {"core.cache", "core.cli", "core.manifest", "core.refresh"} <= set(report["imported"])
    assert set(report["imported"]) <= set(report["loaded"])
    assert "PySide6.QtWidgets" not in report["loaded"]


RUN_ENTRY_POINT = """
import json, sys
from gui.launcher import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit_:
    code = exit_.code
sys.stdout.flush()
print("\\nREPORT " + json.dumps({"code": code, "loaded": sorted(sys.modules)}))
"""


@pytest.mark.parametrize(
    ("args", "expected_output"),
    [(["--version"], "image-refresh "), (["list"], ""), (["list", "--json"], "")],
)
def test_command_line_entry_point_loads_no_qt_widgets(
    args: list[str], expected_output: str, cache_dir: Path
) -> None:
    if args[0] == "list":
        with ImageCache(cache_dir):
            pass  # an empty cache to list
        args = [*args, "--cache-dir", str(cache_dir)]
    done = subprocess.run(
        [sys.executable, "-c", RUN_ENTRY_POINT, *args],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )
    output, _, report_line = done.stdout.rpartition("\nREPORT ")
    report = json.loads(report_line)
    assert report["code"] in (0, None), done.stderr
    assert expected_output in output
    assert "gui.launcher" in report["loaded"] and "core.cli" in report["loaded"]
    assert "PySide6.QtWidgets" not in report["loaded"]
    if args[0] == "list":
        assert manifest_path(cache_dir).is_file()  # the command really ran


def test_installed_command_imports_no_qt_widgets() -> None:
    script = Path(sys.executable).with_name("image-refresh")
    if not script.is_file():
        pytest.skip("the console script is not installed next to this interpreter")
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(script), "--version"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=True,
    )
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert done.stdout.startswith("image-refresh ")
    assert "core.cli" in imported and "gui.launcher" in imported
    assert "PySide6.QtWidgets" not in imported
