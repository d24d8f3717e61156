"""One bad image never takes a batch down: on either backend, hostile bodies and a damaged cache
fail their own targets with a reason, and every other target of the batch is refreshed."""

from __future__ import annotations

import io
import random
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from core.cache import ImageCache
from core.models import Action, FailureReason, RefreshMode, RefreshResult
from tests.server import LoopbackServer, gif_canvas, image, jpeg_bytes, sequence

GOOD_COUNT = 15


def garbage_after_a_jpeg_header() -> bytes:
    noise = random.Random(7).randbytes(4000)
    return b"\xff\xd8\xff\xe0" + noise


def png_with_a_broken_chunk() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 200, 30)).save(out, "PNG")
    body = bytearray(out.getvalue())
    ihdr = body.index(b"IHDR")
    body[ihdr + 4 : ihdr + 8] = struct.pack(">I", 41)  # width changed, checksum not
    return bytes(body)


def gif_cut_in_its_frames() -> bytes:
    frames = [Image.new("P", (120, 90), color) for color in (1, 2, 3, 4)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    return out.getvalue()[: len(out.getvalue()) * 2 // 3]


def webp_with_a_bad_size_field() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 20, 160)).save(out, "WEBP")
    body = bytearray(out.getvalue())
    body[4:8] = struct.pack("<I", 0xFFFFFF00)  # the RIFF size: far past the end of the body
    vp8 = body.index(b"VP8")
    body[vp8 + 4 : vp8 + 8] = struct.pack("<I", 0x7FFFFFF0)  # the frame's chunk size too
    return bytes(body)


HOSTILE = {
    "jpeg-header-then-garbage": (garbage_after_a_jpeg_header(), "image/jpeg"),
    "png-broken-chunk": (png_with_a_broken_chunk(), "image/png"),
    "gif-cut-in-its-frames": (gif_cut_in_its_frames(), "image/gif"),
    "webp-bad-size-field": (webp_with_a_bad_size_field(), "image/webp"),
}
OLD, NEW = jpeg_bytes((250, 10, 10)), jpeg_bytes((10, 10, 250))


def hostile_batch(server: LoopbackServer, cache: ImageCache) -> dict[str, Path]:
    """20 cached images whose next download is: 15 good, 4 hostile, 1 over a folder."""
    urls = {
        name: server.route(
            f"/bad/{name}.jpg", sequence(image(OLD), image(body, content_type=content_type))
        )
        for name, (body, content_type) in HOSTILE.items()
    }
    urls["became-a-folder"] = server.route("/bad/folder.jpg", sequence(image(OLD), image(NEW)))
    for n in range(GOOD_COUNT):
        urls[f"good-{n}"] = server.route(f"/good/{n}.jpg", sequence(image(OLD), image(NEW)))
    first = list(
        cache.refresh_many(cache.add_urls(list(urls.values()), "events"), RefreshMode.MISSING)
    )
    assert [r.action for r in first] == [Action.DOWNLOADED] * len(urls)
    paths = {r.url: r.path for r in first if r.path is not None and r.url is not None}
    folder = paths[urls["became-a-folder"]]
    folder.unlink()
    folder.mkdir()
    (folder / "inside.txt").write_text("someone's notes")
    return {name: paths[url] for name, url in urls.items()}


@pytest.mark.warnings_expected  # failed refreshes log a WARNING
def test_hostile_bodies_and_a_folder_fail_alone_on_either_backend(
    server: LoopbackServer, make_cache: Callable[..., ImageCache]
) -> None:
    cache = make_cache(jobs=4)
    paths = hostile_batch(server, cache)
    kept = {name: path.stat().st_mtime_ns for name, path in paths.items()}

    results: dict[str, RefreshResult] = {}
    by_path = {path: name for name, path in paths.items()}
    for result in cache.refresh_many(cache.entries(), RefreshMode.FORCE):
        assert result.path is not None
        results[by_path[result.path]] = result

    assert set(results) == set(paths)  # every target reported, none lost to another's failure
    for name, result in results.items():
        path = paths[name]
        if name.startswith("good-"):
            assert result.action is Action.REFRESHED, (name, result.error)
            assert path.read_bytes() == NEW
            continue
        assert result.action is Action.FAILED, name
        assert result.error is not None and len(result.error) < 100, (name, result.error)
        assert "((" not in result.error and "unexpected" not in result.error, result.error
        assert path.stat().st_mtime_ns == kept[name], name
        if name == "became-a-folder":
            assert "not a file" in result.error
            assert (path / "inside.txt").read_text() == "someone's notes"
        else:
            assert "image" in result.error, result.error
            assert path.read_bytes() == OLD, name


@pytest.mark.warnings_expected  # failed refreshes log a WARNING
def test_the_command_line_reports_every_target_of_a_hostile_batch(
    server: LoopbackServer, cache_dir: Path, tmp_path: Path
) -> None:
    with ImageCache(cache_dir) as cache:
        paths = hostile_batch(server, cache)
    executable = shutil.which("image-refresh", path=str(Path(sys.executable).parent))
    assert executable is not None

    completed = subprocess.run(
        [executable, "refresh", "--force", "--all", "--cache-dir", str(cache_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr + completed.stdout
    assert f"{GOOD_COUNT} refreshed" in completed.stderr and "5 failed" in completed.stderr
    for path in paths.values():
        assert str(path) in completed.stdout  # one line per target


def test_a_closed_pipe_ends_the_output_quietly(server: LoopbackServer, cache_dir: Path) -> None:
    with ImageCache(cache_dir) as cache:
        urls = [server.route(f"/img/{n}.jpg", image(OLD)) for n in range(300)]
        assert all(
            r.ok for r in cache.refresh_many(cache.add_urls(urls, "events"), RefreshMode.MISSING)
        )
    executable = shutil.which("image-refresh", path=str(Path(sys.executable).parent))
    for command in ("list --json", "refresh --all"):
        completed = subprocess.run(
            f"'{executable}' {command} --cache-dir '{cache_dir}' | head -1",
            shell=True,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0
        assert len(completed.stdout.splitlines()) == 1, command
        assert "Traceback" not in completed.stderr and "BrokenPipe" not in completed.stderr, (
            command,
            completed.stderr,
        )


def _checksum_is_stale(body: bytes) -> bool:
    ihdr = body.index(b"IHDR")
    (crc,) = struct.unpack(">I", body[ihdr + 17 : ihdr + 21])
    return crc != zlib.crc32(body[ihdr : ihdr + 17]) & 0xFFFFFFFF


def test_the_hostile_bodies_are_what_they_claim() -> None:
    assert _checksum_is_stale(HOSTILE["png-broken-chunk"][0])
    assert HOSTILE["jpeg-header-then-garbage"][0].startswith(b"\xff\xd8\xff\xe0")
    assert HOSTILE["gif-cut-in-its-frames"][0].startswith(b"GIF89a")
    assert not HOSTILE["gif-cut-in-its-frames"][0].endswith(b";")  # no trailer
    assert HOSTILE["webp-bad-size-field"][0][8:12] == b"WEBP"


@pytest.mark.warnings_expected  # failed refreshes log a WARNING
def test_an_animation_too_costly_to_prove_is_refused_from_a_server(
    server: LoopbackServer, make_cache: Callable[..., ImageCache]
) -> None:
    # 115 KB: 5,000 frames on a 4000x4000 canvas, some 390 CPU-seconds to decode in full.
    url = server.route("/anim.gif", sequence(image(OLD), image(gif_canvas(4000, 4000, 5000))))
    cache = make_cache()
    (entry,) = cache.add_urls([url], "events")
    first = cache.refresh(entry, RefreshMode.MISSING)
    assert first.path is not None

    result = cache.refresh(entry, RefreshMode.FORCE)

    assert result.action is Action.FAILED and result.reason is FailureReason.TOO_MANY_PIXELS
    assert result.error is not None and "frames of 4000×4000" in result.error
    assert first.path.read_bytes() == OLD
