"""A tampered or full cache loses nothing: writes never leave the cache, a damaged manifest is
rebuilt from the files on disk (and kept aside), and a full disk is called a full disk."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.cache import ImageCache
from core.models import Action, RefreshMode
from core.storage import STATE_DIR_NAME
from tests.server import LoopbackServer, image, jpeg_bytes, noisy_jpeg

OLD, NEW = jpeg_bytes((30, 60, 90)), jpeg_bytes((90, 60, 30))
COMMAND = Path(sys.executable).with_name("image-refresh")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMMAND), *args], capture_output=True, text=True, timeout=60, check=False
    )


def records(completed: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in completed.stdout.splitlines()]


def tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below `folder` (not our state), with its bytes and mtime."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and STATE_DIR_NAME not in p.parts
    }


def cache_with(server: LoopbackServer, cache_dir: Path, names: list[str]) -> list[str]:
    urls = [server.route(f"/{name}.jpg", image(OLD)) for name in names]
    completed = run("add", *urls, "--category", "events", "--cache-dir", str(cache_dir))
    assert completed.returncode == 0, completed.stderr
    return urls


# --- 1. writes never leave the cache ------------------------------------------------------------


@pytest.mark.warnings_expected  # refused targets log a WARNING
def test_a_category_folder_linking_out_of_the_cache_is_never_written_through(
    server: LoopbackServer, cache_dir: Path, tmp_path: Path
) -> None:
    urls = cache_with(server, cache_dir, ["a", "b"])
    outside = tmp_path / "somebody-elses-folder"
    shutil.move(cache_dir / "events", outside)
    (cache_dir / "events").symlink_to(outside, target_is_directory=True)
    for url in urls:
        server.route(url.removeprefix(server.url("")), image(NEW))
    before = tree(outside)

    refreshed = run("refresh", "--all", "--force", "--json", "--cache-dir", str(cache_dir))
    new_url = server.route("/c.jpg", image(NEW))
    added = run("add", new_url, "--category", "events", "--json", "--cache-dir", str(cache_dir))

    assert refreshed.returncode == 1 and added.returncode == 1
    for record in records(refreshed) + records(added):
        assert record["action"] == "failed"
        assert "links outside the cache" in record["error"], record
    assert tree(outside) == before  # not one byte written there
    assert server.requests_for("/c.jpg") == []  # refused before any download


@pytest.mark.warnings_expected  # refused targets log a WARNING
def test_an_image_that_is_a_link_out_of_the_cache_is_left_alone(
    server: LoopbackServer, cache_dir: Path, tmp_path: Path
) -> None:
    (url,) = cache_with(server, cache_dir, ["linked"])
    (path,) = (cache_dir / "events").iterdir()
    precious = tmp_path / "precious.jpg"
    precious.write_bytes(b"someone's original")
    path.unlink()
    path.symlink_to(precious)
    server.route("/linked.jpg", image(NEW))

    completed = run("refresh", url, "--force", "--json", "--cache-dir", str(cache_dir))

    (record,) = records(completed)
    assert record["action"] == "failed" and "links outside the cache" in record["error"]
    assert precious.read_bytes() == b"someone's original"
    assert path.is_symlink()


# --- 2. a damaged manifest is rebuilt, and kept aside ------------------------------------------


def _cut_in_half(manifest: Path) -> None:
    manifest.write_bytes(manifest.read_bytes()[: manifest.stat().st_size // 2])


DAMAGES: dict[str, Callable[[Path], None]] = {
    "deleted": lambda manifest: manifest.unlink(),
    "emptied": lambda manifest: manifest.write_bytes(b""),
    "cut in half": _cut_in_half,
    "garbage": lambda manifest: manifest.write_bytes(os.urandom(64 * 1024)),
    "text": lambda manifest: manifest.write_text("id,url\n1,http://example.org/a.jpg\n" * 300),
    "a folder": lambda manifest: (manifest.unlink(), manifest.mkdir()),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_manifest_is_rebuilt_and_add_takes_the_files_over(
    damage: str, server: LoopbackServer, cache_dir: Path
) -> None:
    urls = cache_with(server, cache_dir, [f"img{n}" for n in range(5)])
    manifest = cache_dir / STATE_DIR_NAME / "manifest.sqlite3"
    with ImageCache(cache_dir) as cache:  # a real size to cut: fold the journal in
        cache.manifest.close()
    for journal in ("-wal", "-shm"):
        Path(f"{manifest}{journal}").unlink(missing_ok=True)
    DAMAGES[damage](manifest)
    damaged_bytes = manifest.read_bytes() if manifest.is_file() else None
    images = tree(cache_dir)
    server.seen.clear()

    added = run("add", *urls, "--category", "events", "--json", "--cache-dir", str(cache_dir))
    listed = run("list", "--json", "--cache-dir", str(cache_dir))

    assert added.returncode == 0, added.stderr
    assert [r["action"] for r in records(added)] == ["cached"] * len(urls)
    assert server.seen == []  # taken over, not downloaded again
    assert tree(cache_dir) == images
    assert {r["url"] for r in records(listed)} == set(urls)
    said = [line for line in added.stderr.splitlines() if "rebuilt it from the 5 file(s)" in line]
    assert len(said) == 1, added.stderr
    assert "rebuilt" not in listed.stderr  # said once, when it happened
    kept = sorted((cache_dir / STATE_DIR_NAME).glob("manifest.sqlite3.damaged-*"))
    if damage in ("deleted", "emptied"):
        assert kept == []
    else:
        assert len(kept) == 1 and kept[0].name in said[0]
        if damaged_bytes is not None:
            assert kept[0].read_bytes() == damaged_bytes  # kept for the user, as it was


# --- 3. a full disk is a full disk --------------------------------------------------------------


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs: {mounted.stderr}")
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.warnings_expected  # the failed download logs a WARNING
def test_a_full_disk_is_reported_as_such_and_loses_nothing(
    server: LoopbackServer, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk", "4m") as disk:
        cache_dir = disk / "cache"
        urls = cache_with(server, cache_dir, ["one", "two"])
        images = tree(cache_dir)
        filler = disk / "filler"
        with filler.open("wb") as out, contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 65536)
        big = server.route("/big.jpg", image(noisy_jpeg((600, 600))))

        added = run("add", big, "--category", "events", "--json", "--cache-dir", str(cache_dir))
        for url in urls:
            server.route(url.removeprefix(server.url("")), image(noisy_jpeg((600, 600))))
        refreshed = run("refresh", "--all", "--force", "--json", "--cache-dir", str(cache_dir))

        for completed in (added, refreshed):
            assert completed.returncode == 1
            said = (completed.stdout + completed.stderr).lower()
            assert "no space left" in said or "is full" in said, said
            assert "damaged" not in said and "aside" not in said and "Traceback" not in said
        assert tree(cache_dir) == images  # every image kept, byte for byte, mtime and all
        filler.unlink()
        listed = run("list", "--json", "--cache-dir", str(cache_dir))
        assert set(urls) <= {r["url"] for r in records(listed)}
        done = run("refresh", "--all", "--force", "--json", "--cache-dir", str(cache_dir))
        assert done.returncode == 0 and all(r["action"] == "refreshed" for r in records(done))


@pytest.mark.warnings_expected  # the rebuilt manifest is announced with a WARNING
def test_refreshes_of_a_rebuilt_cache_keep_one_row_per_file(
    server: LoopbackServer, cache_dir: Path
) -> None:
    # A URL added anew whose file is on disk under another name still ends with one row.
    (url,) = cache_with(server, cache_dir, ["solo"])
    (cache_dir / STATE_DIR_NAME / "manifest.sqlite3").unlink()
    with ImageCache(cache_dir) as cache:
        (found,) = cache.entries()
        assert found.url is None
        (entry,) = cache.add_urls([url], "events")
        server.route("/solo.jpg", image(NEW))
        result = cache.refresh(entry, RefreshMode.FORCE)
        assert result.action is Action.REFRESHED, result.error
        assert [(e.url, e.rel_path) for e in cache.entries()] == [(url, found.rel_path)]
