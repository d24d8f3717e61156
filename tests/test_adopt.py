"""An existing uploads folder (a web app's, as Waffle keeps it) is refreshed in place: adopted
with no file moved or added, its source URLs imported from a database export, its originals
refreshed at their own paths with their thumbnails remade, and no secret ever shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.cache import ImageCache
from core.models import Action, RefreshMode
from tests.server import LoopbackServer, Responder, image, send
from tests.uploads import (
    KINDS,
    SECRET,
    THUMBS,
    Uploads,
    build_uploads,
    close_to,
    listing,
    picture,
    thumbnail_of,
)

COMMAND = Path(sys.executable).with_name("image-refresh")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMMAND), *args], capture_output=True, text=True, timeout=120, check=False
    )


def records(completed: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in completed.stdout.splitlines()]


@pytest.mark.warnings_expected  # the refused rows and the unsourced files are reported
def test_an_uploads_folder_is_refreshed_in_place_with_its_thumbnails(
    server: LoopbackServer, tmp_path: Path
) -> None:
    uploads = build_uploads(tmp_path, server)
    root = uploads.root
    os.chmod(next(iter(uploads.originals)), 0o640)  # the web server's group may read it
    before = listing(root)

    adopted = run("adopt", str(root), "--sources", str(uploads.sources), "--variant", THUMBS,
                  "--json")  # fmt: skip
    refreshed = run("refresh", "--all", "--force", "--json", "--cache-dir", str(root))
    after = listing(root)

    # Adopting: one answer per row of the export, the bad ones saying why.
    answers = records(adopted)
    assert adopted.returncode == 1  # some rows were refused
    assert sum(1 for a in answers if a["action"] == "source-set") == len(uploads.originals)
    refused = sorted(a["error"].split(": ", 1)[1].split(":")[0] for a in answers if not a["ok"])
    assert refused == [
        "duplicate path",
        "not an http or https URL",
        "the path is outside the folder",
        "unknown path",
    ]
    # Refreshing: every original with a source, at its own path, thumbnail remade with it.
    results = {Path(r["path"]): r for r in records(refreshed)}
    assert refreshed.returncode == 0, refreshed.stderr
    assert set(results) == set(uploads.originals)  # the unsourced are skipped, not failed
    for original, body in uploads.new_bodies.items():
        result = results[original]
        assert result["action"] == "refreshed", result
        assert original.read_bytes() == body
        assert (
            after[str(original.relative_to(root))][1] > before[str(original.relative_to(root))][1]
        )
        thumb = original.with_name(original.name.replace("original_", "thumb_", 1))
        assert result["variants"] == [str(thumb)]
        assert close_to(thumb, thumbnail_of(body)), thumb
    # Nothing added, nothing renamed, nothing of ours left; modes kept.
    assert set(after) == set(before)
    for name, (content, mtime, mode) in before.items():
        assert after[name][2] == mode, name
        if Path(root / name) not in uploads.new_bodies and not name.split("/")[-1].startswith(
            "thumb_"
        ):
            assert after[name][:2] == (content, mtime), name
    # The PNG saved as .jpg keeps its name; the record says so.
    png_as_jpg = [r for r in results.values() if r.get("note")]
    assert png_as_jpg and all(
        "PNG" in r["note"] and "kept the name" in r["note"] for r in png_as_jpg
    )
    # No secret in any output, nor in the log.
    shown = adopted.stdout + adopted.stderr + refreshed.stdout + refreshed.stderr
    logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "user").rglob("*.log*"))
    assert SECRET not in shown + logs
    assert "key=***" in shown


@pytest.mark.parametrize("failure", ["html-instead-of-the-image", "thumbnail-cannot-be-written"])
@pytest.mark.warnings_expected  # the failed refresh logs a WARNING
def test_a_failure_mid_way_leaves_the_original_and_its_thumbnail_as_they_were(
    failure: str, server: LoopbackServer, tmp_path: Path
) -> None:
    uploads = build_uploads(tmp_path, server, count=2)
    original = uploads.root / "venues" / "hall-0" / "original_hero-0.jpg"
    thumb = original.with_name("thumb_hero-0.jpg")
    responder: Responder = image(picture((9, 9, 9), (800, 600)))
    if failure == "html-instead-of-the-image":
        responder = send(200, b"<!DOCTYPE html><html>Oops</html>", "image/jpeg")
    server.route("/venues/0/hero-0.jpg", responder)
    assert run("adopt", str(uploads.root), "--sources", str(uploads.sources),
               "--variant", THUMBS).returncode == 1  # fmt: skip
    if failure == "thumbnail-cannot-be-written":
        thumb.unlink()
        thumb.mkdir()  # where the new thumbnail must go, a folder stands
    before = listing(uploads.root)

    completed = run("refresh", str(original), "--force", "--json", "--cache-dir", str(uploads.root))

    (result,) = records(completed)
    assert result["action"] == "failed" and completed.returncode == 1
    assert listing(uploads.root) == before  # the pair exactly as it was, nothing left over


def test_adopting_leaves_nothing_of_ours_and_is_harmless_twice(
    server: LoopbackServer, tmp_path: Path
) -> None:
    uploads = build_uploads(tmp_path, server, count=3)
    before = listing(uploads.root)

    first = run("adopt", str(uploads.root), "--variant", THUMBS)
    second = run("adopt", str(uploads.root))  # keeps the remembered rule
    listed = run("list", "--json", "--cache-dir", str(uploads.root))

    assert first.returncode == second.returncode == 0
    assert listing(uploads.root) == before
    assert "9 image(s), 9 new" in first.stderr and "9 image(s), 0 new" in second.stderr
    assert THUMBS in second.stderr
    entries = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(entries) == 9 and all(e["url"] is None for e in entries)
    assert not any("thumb_" in e["path"] for e in entries)  # variants are not entries
    assert {e["category"] for e in entries} == set(KINDS)


@pytest.mark.warnings_expected  # the unsourced file's refresh logs a WARNING
def test_a_file_without_a_source_is_listed_and_never_touched(
    server: LoopbackServer, tmp_path: Path
) -> None:
    uploads = build_uploads(tmp_path, server, count=4)
    run("adopt", str(uploads.root), "--sources", str(uploads.sources), "--variant", THUMBS)
    lonely = uploads.unsourced[0]
    before = listing(uploads.root)

    with ImageCache(uploads.root) as cache:
        entry = cache.find(str(lonely))
        assert entry is not None and entry.url is None
        result = cache.refresh(entry, RefreshMode.FORCE)

    assert result.action is Action.FAILED and result.error == "no known source URL for this file"
    assert listing(uploads.root) == before


def test_cache_dir_on_an_adopted_folder_works_and_on_a_plain_one_is_refused(
    server: LoopbackServer, tmp_path: Path
) -> None:
    uploads = build_uploads(tmp_path, server, count=1)
    plain = tmp_path / "plain"
    plain.mkdir()

    refused = run("list", "--cache-dir", str(plain))
    run("adopt", str(uploads.root))
    accepted = run("list", "--cache-dir", str(uploads.root))

    assert refused.returncode == 2 and "image-refresh adopt" in refused.stderr
    assert accepted.returncode == 0 and "6 image(s)" in accepted.stderr  # no rule: no variants


def adopted_pair(server: LoopbackServer, tmp_path: Path) -> tuple[Uploads, Path, Path]:
    """A small adopted uploads tree with the thumbnail rule, and one original with its thumb."""
    uploads = build_uploads(tmp_path, server, count=2)
    run("adopt", str(uploads.root), "--sources", str(uploads.sources), "--variant", THUMBS)
    original = uploads.root / "venues" / "hall-1" / "original_hero-1.jpg"
    return uploads, original, original.with_name("thumb_hero-1.jpg")


def test_a_missing_thumbnail_is_made_with_its_refreshed_original(
    server: LoopbackServer, tmp_path: Path
) -> None:
    uploads, original, thumb = adopted_pair(server, tmp_path)
    thumb.unlink()

    completed = run("refresh", str(original), "--force", "--json", "--cache-dir", str(uploads.root))

    (result,) = records(completed)
    assert result["action"] == "refreshed" and result["variants"] == [str(thumb)]
    assert close_to(thumb, thumbnail_of(uploads.new_bodies[original]))


def test_a_revert_puts_back_the_original_and_remakes_its_thumbnail_from_it(
    server: LoopbackServer, tmp_path: Path
) -> None:
    uploads, original, thumb = adopted_pair(server, tmp_path)
    old = original.read_bytes()
    refreshed = run("refresh", str(original), "--force", "--cache-dir", str(uploads.root))
    assert refreshed.returncode == 0 and close_to(thumb, thumbnail_of(uploads.new_bodies[original]))

    reverted = run("revert", str(original), "--json", "--cache-dir", str(uploads.root))

    (result,) = records(reverted)
    assert result["action"] == "reverted" and result["variants"] == [str(thumb)]
    assert original.read_bytes() == old
    assert close_to(thumb, thumbnail_of(old))  # the thumbnail went back with its original


def test_a_refresh_and_a_revert_say_each_variants_file_before_and_after(
    server: LoopbackServer, tmp_path: Path
) -> None:
    uploads, original, thumb = adopted_pair(server, tmp_path)
    old = thumb.stat()

    with ImageCache(uploads.root) as cache:
        entry = cache.find(str(original))
        assert entry is not None
        refreshed = cache.refresh(entry, RefreshMode.FORCE)
        new = thumb.stat()
        thumb.unlink()  # a revert remakes a missing variant too
        reverted = cache.refresh(entry, RefreshMode.REVERT)

    assert refreshed.variants is not None and reverted.variants is not None
    (made,) = refreshed.variants
    assert made.path == thumb
    assert (made.before_mtime, made.before_size) == (old.st_mtime, old.st_size)
    assert (made.after_mtime, made.after_size) == (new.st_mtime, new.st_size)
    (remade,) = reverted.variants
    assert (remade.before_mtime, remade.before_size) == (None, None)
    assert (remade.after_mtime, remade.after_size) == (thumb.stat().st_mtime, thumb.stat().st_size)
