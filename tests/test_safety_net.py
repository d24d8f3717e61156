"""The safety net (contract: "Safety net"): placeholders are refused, every replacement says
how the picture changed, and the replaced version can be put back, and back again.

Against a real server on 127.0.0.1 that turns a real picture into a placeholder; on both
backends (threads, worker processes) where the refresh itself is under test.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core.cache import ImageCache
from core.models import Action, FailureReason, PictureChange, RefreshMode, RefreshResult
from core.picture_change import Fingerprint, fingerprint_file
from core.placeholders import (
    Placeholder,
    PlaceholderList,
    placeholder_reason,
    user_placeholders_path,
)
from core.settings import RefreshSettings
from tests.pictures import (
    flat,
    palette_blocks,
    photo,
    pixel,
    reencoded,
    removed,
)
from tests.processes import kill_9, reaped
from tests.server import LoopbackServer, image

IMAGE_REFRESH = str(Path(sys.executable).parent / "image-refresh")
MakeCache = Callable[..., ImageCache]
DEADLINE = 60.0


def serve_and_download(
    server: LoopbackServer, cache: ImageCache, body: bytes, path: str = "/hero.jpg"
) -> tuple[str, Path]:
    """The image downloaded once: its URL and cached file."""
    url = server.route(path, image(body))
    (entry,) = cache.add_urls([url], "events")
    first = cache.refresh(entry, RefreshMode.MISSING)
    assert first.action is Action.DOWNLOADED, first.error
    assert first.path is not None
    return url, first.path


def refresh(cache: ImageCache, url: str, mode: RefreshMode, **options: bool) -> RefreshResult:
    entry = cache.find(url)
    assert entry is not None
    return cache.refresh(entry, mode, **options)  # type: ignore[arg-type]


def mark_removed_placeholder(tmp_path: Path) -> None:
    """The user marks the source's "image removed" picture, as served at its first size."""
    marked = tmp_path / "removed.jpg"
    marked.write_bytes(removed((600, 400), quality=92))
    placeholder, new = PlaceholderList().add(marked, RefreshSettings().max_pixels)
    assert new and placeholder.name == "removed.jpg"


PLACEHOLDERS = {
    "flat-grey": lambda: flat((128, 128, 128), (600, 400)),
    "one-pixel": pixel,
    # The marked picture as the source now sends it: another quality, another size.
    "marked-removed-re-encoded": lambda: reencoded(removed((600, 400)), quality=60, scale=0.8),
}


@pytest.mark.warnings_expected  # a refused refresh logs a WARNING, as a failed one does
@pytest.mark.parametrize("kind", sorted(PLACEHOLDERS))
def test_a_placeholder_is_refused_and_the_old_file_kept_exactly_unless_allowed(
    server: LoopbackServer, make_cache: MakeCache, tmp_path: Path, kind: str
) -> None:
    mark_removed_placeholder(tmp_path)
    cache = make_cache()
    real = photo(1, (640, 480))
    url, path = serve_and_download(server, cache, real)
    before = path.stat()
    placeholder = PLACEHOLDERS[kind]()
    server.route("/hero.jpg", image(placeholder))

    for mode in (RefreshMode.FORCE, RefreshMode.CHECK):
        refused = refresh(cache, url, mode)
        assert refused.action is Action.REFUSED and not refused.ok
        assert refused.reason is FailureReason.PLACEHOLDER
        assert refused.error is not None and "placeholder" in refused.error
        assert path.read_bytes() == real
        assert path.stat().st_mtime_ns == before.st_mtime_ns
        record = refused.to_json_dict()
        assert record["action"] == "refused" and record["ok"] is False
        assert record["sha256"] == hashlib.sha256(real).hexdigest()

    accepted = refresh(cache, url, RefreshMode.FORCE, allow_placeholder=True)
    assert accepted.action is Action.REFRESHED, accepted.error
    assert accepted.path is not None and accepted.path.read_bytes() == placeholder
    assert accepted.change is PictureChange.CHANGED


def test_what_the_guard_lets_through(server: LoopbackServer, cache: ImageCache) -> None:
    """A first download of a flat picture (nothing to protect), a flat picture replacing a flat
    one, and any picture repairing a file that is no picture (an HTML page saved as .jpg)."""
    url, path = serve_and_download(server, cache, flat((10, 20, 30)))
    server.route("/hero.jpg", image(flat((200, 100, 0))))
    assert refresh(cache, url, RefreshMode.FORCE).action is Action.REFRESHED
    path.write_bytes(b"<html><body>error</body></html>")
    assert refresh(cache, url, RefreshMode.FORCE).action is Action.REFRESHED
    assert path.read_bytes() == flat((200, 100, 0))


def test_placeholder_rules_judge_the_new_picture_against_the_old(tmp_path: Path) -> None:
    def fingerprint(data: bytes, name: str) -> Fingerprint:
        file = tmp_path / name
        file.write_bytes(data)
        found = fingerprint_file(file, 10**8)
        assert found is not None
        return found

    real, other = fingerprint(photo(5), "real.jpg"), fingerprint(photo(6), "other.jpg")
    grey, tiny = fingerprint(flat(), "grey.jpg"), fingerprint(pixel(), "pixel.png")
    small_real = fingerprint(photo(7, (16, 12)), "small.jpg")
    gone = fingerprint(removed(), "removed.jpg")
    gone_again = fingerprint(reencoded(removed(), quality=50, scale=0.7), "removed-small.jpg")
    marked = [Placeholder("removed.jpg", gone, 0.0, "removed.jpg")]

    assert placeholder_reason(other, real, marked) is None
    assert placeholder_reason(grey, real, []) == (
        "the new image is one flat colour (#808080), 600×400 pixels"
    )
    assert placeholder_reason(tiny, real, []) == (
        "the new image is only 1×1 pixels, replacing one of 320×240"
    )
    assert placeholder_reason(gone_again, real, marked) == (
        "the new image looks like the placeholder “removed.jpg” you marked"
    )
    # Nothing real to protect: the cached picture is a placeholder itself, by any rule.
    for old in (grey, tiny, gone_again):
        for new in (grey, tiny, gone, small_real, other):
            assert placeholder_reason(new, old, marked) is None
    assert placeholder_reason(grey, None, marked) is None  # an old file that is no picture


@pytest.mark.parametrize(
    ("old", "new", "change"),
    [
        (
            photo(3, (400, 300)),
            reencoded(photo(3, (400, 300)), quality=60, scale=0.9),
            "same-picture",
        ),
        (
            photo(3, (400, 300)),
            reencoded(photo(3, (400, 300)), quality=97, scale=1.1),
            "same-picture",
        ),
        (palette_blocks(1), palette_blocks(2), "changed"),
        (photo(3, (400, 300)), photo(4, (400, 300)), "changed"),
        (photo(3, (400, 300)), photo(3, (400, 300)), "same-bytes"),
    ],
    ids=["re-encoded-q60-90%", "re-encoded-q97-110%", "same-size-and-palette", "other", "same"],
)
def test_every_replacement_says_how_the_picture_changed(
    server: LoopbackServer, make_cache: MakeCache, old: bytes, new: bytes, change: str
) -> None:
    cache = make_cache()
    url, _path = serve_and_download(server, cache, old)
    server.route("/hero.jpg", image(new))
    result = refresh(cache, url, RefreshMode.FORCE)
    assert result.action is Action.REFRESHED, result.error
    assert result.change is PictureChange(change)
    assert result.to_json_dict()["change"] == change
    # A download of a missing file replaced nothing; a cached one was not replaced.
    assert refresh(cache, url, RefreshMode.MISSING).to_json_dict()["change"] is None


def test_refresh_revert_revert_again_alternates_the_bytes_exactly(
    server: LoopbackServer, make_cache: MakeCache
) -> None:
    cache = make_cache()
    first, second = palette_blocks(1), photo(2)  # a PNG, then a JPEG: the path changes too
    url, png_path = serve_and_download(server, cache, first, "/hero")
    server.route("/hero", image(second))
    refreshed = refresh(cache, url, RefreshMode.FORCE)
    assert refreshed.action is Action.REFRESHED and refreshed.path is not None
    jpeg_path = refreshed.path
    assert jpeg_path.suffix == ".jpg" and not png_path.exists()

    expected = [(png_path, first), (jpeg_path, second), (png_path, first), (jpeg_path, second)]
    previous_mtime = jpeg_path.stat().st_mtime
    for path, content in expected:
        reverted = refresh(cache, url, RefreshMode.REVERT)
        assert reverted.action is Action.REVERTED and reverted.ok, reverted.error
        assert reverted.path == path and path.read_bytes() == content
        assert not (jpeg_path if path == png_path else png_path).exists()
        assert reverted.after_mtime is not None and reverted.after_mtime > previous_mtime
        assert reverted.change is PictureChange.CHANGED
        assert reverted.after_sha256 == hashlib.sha256(content).hexdigest()
        previous_mtime = reverted.after_mtime
        entry = cache.find(url)
        assert entry is not None and entry.rel_path == path.relative_to(cache.root).as_posix()
    history = cache.history(cache.find(url))  # type: ignore[arg-type]
    assert [h.outcome for h in history[:4]] == ["reverted"] * 4
    assert history[0].mode == "revert"


@pytest.mark.warnings_expected  # nothing to revert is a failed target
def test_the_same_bytes_keep_the_earlier_version_and_nothing_kept_is_not_ok(
    server: LoopbackServer, cache: ImageCache
) -> None:
    url, path = serve_and_download(server, cache, photo(1))
    nothing = refresh(cache, url, RefreshMode.REVERT)
    assert nothing.action is Action.FAILED and not nothing.ok
    assert nothing.reason is FailureReason.NO_VERSION and path.read_bytes() == photo(1)
    server.route("/hero.jpg", image(photo(2)))
    assert refresh(cache, url, RefreshMode.FORCE).change is PictureChange.CHANGED
    assert refresh(cache, url, RefreshMode.FORCE).change is PictureChange.SAME_BYTES
    assert refresh(cache, url, RefreshMode.REVERT).action is Action.REVERTED
    assert path.read_bytes() == photo(1)


@pytest.mark.warnings_expected  # nothing to revert is a failed target
def test_kept_versions_live_in_the_state_and_the_oldest_are_dropped_first(
    server: LoopbackServer, make_cache: MakeCache
) -> None:
    olds = [photo(10 + i, (400, 300)) for i in range(3)]
    bound = sum(len(old) for old in olds[1:])  # room for the last two kept versions only
    cache = make_cache(kept_versions_bytes=bound)
    urls = []
    for i, old in enumerate(olds):
        url, _path = serve_and_download(server, cache, old, f"/img{i}.jpg")
        urls.append(url)
    for i, url in enumerate(urls):  # oldest first
        server.route(f"/img{i}.jpg", image(photo(20 + i, (400, 300))))
        assert refresh(cache, url, RefreshMode.FORCE).action is Action.REFRESHED

    kept_files = sorted(p for p in cache.storage.versions_dir.iterdir() if p.suffix == ".jpg")
    assert len(kept_files) == 2 and sum(p.stat().st_size for p in kept_files) <= bound
    assert sorted(p.name for p in (cache.root / "events").iterdir()) == sorted(
        p.name for p in (cache.root / "events").iterdir() if not p.name.startswith(".")
    )
    oldest = refresh(cache, urls[0], RefreshMode.REVERT)
    assert oldest.reason is FailureReason.NO_VERSION
    for i in (1, 2):
        reverted = refresh(cache, urls[i], RefreshMode.REVERT)
        assert reverted.action is Action.REVERTED and reverted.path is not None
        assert reverted.path.read_bytes() == olds[i]


REVERT_FOREVER = """
import sys
from pathlib import Path
from core.cache import ImageCache
from core.models import RefreshMode
from core.settings import RefreshSettings

with ImageCache(Path(sys.argv[1]), RefreshSettings()) as cache:
    (entry,) = cache.entries()
    while True:
        result = cache.refresh(entry, RefreshMode.REVERT)
        print(result.action.value, flush=True)
"""


@pytest.mark.slow
def test_kill_9_during_reverts_leaves_old_or_new_and_the_next_revert_goes_on(
    server: LoopbackServer, cache_dir: Path, fast_settings: RefreshSettings, tmp_path: Path
) -> None:
    big_a, big_b = photo(31, (1600, 1200)), photo(32, (1600, 1200))
    with ImageCache(cache_dir, fast_settings) as cache:
        url, path = serve_and_download(server, cache, big_a)
        server.route("/hero.jpg", image(big_b))
        assert refresh(cache, url, RefreshMode.FORCE).action is Action.REFRESHED
    versions = {big_a, big_b}
    script = tmp_path / "revert_forever.py"
    script.write_text(REVERT_FOREVER)
    for round_number in range(3):
        output = tmp_path / f"reverts-{round_number}.out"
        with output.open("w") as out:
            victim = subprocess.Popen(
                [sys.executable, str(script), str(cache_dir)], stdout=out, stderr=out
            )
        with reaped(victim):
            deadline = time.monotonic() + DEADLINE
            while output.read_text().count("reverted") < 3 + round_number * 2:
                assert victim.poll() is None, output.read_text()
                assert time.monotonic() < deadline, "the reverts did not get under way"
                time.sleep(0.005)
            kill_9(victim)
        assert path.read_bytes() in versions  # whole: the old or the new version
        assert "failed" not in output.read_text()

        with ImageCache(cache_dir, fast_settings) as cache:
            now = path.read_bytes()
            reverted = refresh(cache, url, RefreshMode.REVERT)
            assert reverted.action is Action.REVERTED, reverted.error
            assert path.read_bytes() in versions - {now}
            assert cache.storage.temporaries() == []


def test_placeholders_add_belongs_to_the_user_for_every_cache(
    server: LoopbackServer, tmp_path: Path
) -> None:
    marked = tmp_path / "removed.jpg"
    marked.write_bytes(removed())
    env = os.environ.copy()
    add = [IMAGE_REFRESH, "placeholders", "add", str(marked), "--json"]
    done = subprocess.run(
        add, capture_output=True, text=True, timeout=DEADLINE, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) | {"path": None} == {
        "path": None,
        "ok": True,
        "error": None,
        "name": "removed.jpg",
        "added": True,
    }
    assert user_placeholders_path().is_file()
    assert user_placeholders_path().is_relative_to(tmp_path / "user")
    again = subprocess.run(
        add, capture_output=True, text=True, timeout=DEADLINE, env=env, check=False
    )
    assert json.loads(again.stdout)["added"] is False
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("hello")
    bad = subprocess.run(
        [IMAGE_REFRESH, "placeholders", "add", str(not_an_image)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env=env,
        check=False,
    )
    assert bad.returncode == 1 and "not a recognised image" in bad.stdout

    # Two caches, one list: the marked picture is refused in both, re-encoded and smaller.
    served = reencoded(removed(), quality=55, scale=0.75)
    for name in ("first", "second"):
        cache_dir = tmp_path / name
        url = server.route(f"/{name}.jpg", image(photo(40)))
        command = [IMAGE_REFRESH, "add", url, "--cache-dir", str(cache_dir)]
        assert subprocess.run(command, capture_output=True, env=env, check=False).returncode == 0
        server.route(f"/{name}.jpg", image(served))
        refresh_all = [IMAGE_REFRESH, "refresh", "--force", "--all", "--cache-dir", str(cache_dir)]
        done = subprocess.run(
            [*refresh_all, "--json"], capture_output=True, text=True, env=env, check=False
        )
        assert done.returncode == 1, done.stderr
        (record,) = [json.loads(line) for line in done.stdout.splitlines()]
        assert record["action"] == "refused" and record["ok"] is False
        assert "looks like the placeholder “removed.jpg” you marked" in record["error"]
        assert record["change"] is None
        allowed = subprocess.run(
            [*refresh_all, "--allow-placeholder"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert allowed.returncode == 0, allowed.stderr
        assert allowed.stdout.startswith("refreshed") and "[changed]" in allowed.stdout


def test_revert_on_the_command_line(server: LoopbackServer, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    env = os.environ.copy()
    url = server.route("/hero.jpg", image(photo(50)))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [IMAGE_REFRESH, *args, "--cache-dir", str(cache_dir)]
        return subprocess.run(command, capture_output=True, text=True, env=env, check=False)

    assert run("add", url).returncode == 0
    nothing = run("revert", url, "--json")
    assert nothing.returncode == 1
    assert (
        json.loads(nothing.stdout)["error"]
        == "no earlier version of this image is kept to revert to"
    )
    server.route("/hero.jpg", image(reencoded(photo(50), quality=70)))
    refreshed = run("refresh", "--force", url)
    assert refreshed.returncode == 0 and "[same-picture]" in refreshed.stdout
    done = run("revert", url, "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["action"] == "reverted" and record["ok"] is True
    assert record["change"] == "same-picture"
    assert Path(record["path"]).read_bytes() == photo(50)
    assert record["sha256"] == hashlib.sha256(photo(50)).hexdigest()
    assert run("revert").returncode == 2  # no target: a usage error
