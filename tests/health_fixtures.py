"""A cache holding one file of every health, downloaded from a loopback server and then damaged
on disk the ways files really get damaged (shared by the health, report and window tests)."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from core.cache import ImageCache
from core.health import Health
from core.models import ImageEntry, RefreshMode
from tests.server import LoopbackServer, image, jpeg_bytes, noisy_jpeg, png_bomb, png_bytes

HTML_WITH_BOM = (
    b"\xef\xbb\xbf<!DOCTYPE html>\n<html><head><title>502</title></head><body>Bad gateway"
)


def gif_bytes(size: tuple[int, int] = (48, 32)) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 64).convert("P").save(out, "GIF")
    return out.getvalue()


def avif_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(out, "AVIF")
    return out.getvalue()


def cut(data: bytes, fraction: float) -> bytes:
    return data[: int(len(data) * fraction)]


@dataclass(frozen=True)
class Case:
    """One image of the fixture: what the server serves, what is then on disk."""

    name: str  # the URL's file name on the server
    served: bytes
    content_type: str
    on_disk: bytes | None  # None: the file is deleted after the download
    health: Health


# The damaged bytes are made from what was served, as a crash, a proxy or a bad save would.
_JPEG, _PNG, _GIF, _AVIF = noisy_jpeg((160, 120)), png_bytes(), gif_bytes(), avif_bytes()
CASES = (
    Case("hero.jpg", _JPEG, "image/jpeg", _JPEG, Health.OK),
    Case("pixel.jpg", jpeg_bytes(size=(1, 1)), "image/jpeg", jpeg_bytes(size=(1, 1)), Health.OK),
    Case("logo.png", _PNG, "image/png", _PNG, Health.OK),
    Case("error-page.jpg", _JPEG, "image/jpeg", HTML_WITH_BOM, Health.NOT_AN_IMAGE),
    Case("half.jpg", _JPEG, "image/jpeg", cut(_JPEG, 0.5), Health.TRUNCATED),
    Case("almost.jpg", _JPEG, "image/jpeg", cut(_JPEG, 0.99), Health.TRUNCATED),
    Case("no-iend.png", _PNG, "image/png", _PNG[:-12], Health.TRUNCATED),
    Case("no-trailer.gif", _GIF, "image/gif", _GIF[:-1], Health.TRUNCATED),
    Case("short.avif", _AVIF, "image/avif", cut(_AVIF, 0.5), Health.TRUNCATED),
    Case("zero.jpg", _JPEG, "image/jpeg", b"", Health.EMPTY),
    Case("png-as.jpg", _JPEG, "image/jpeg", _PNG, Health.WRONG_EXTENSION),
    Case("huge.png", _PNG, "image/png", png_bomb(), Health.TOO_LARGE),
    Case("gone.jpg", _JPEG, "image/jpeg", None, Health.MISSING),
)
# A damaged file the manifest knows only by its path (found on disk): it cannot be repaired.
ORPHAN_NAME, ORPHAN_BYTES = "orphan.jpg", cut(_JPEG, 0.7)


@dataclass(frozen=True)
class HealthCache:
    root: Path
    urls: dict[str, str]  # case name -> URL
    paths: dict[str, Path]  # case name -> the file's path (as downloaded)
    orphan: Path

    def expected(self) -> dict[str, Health]:
        """The health of every target, by the file's path."""
        found = {str(self.paths[c.name]): c.health for c in CASES}
        found[str(self.orphan)] = Health.TRUNCATED
        return found


def make_health_cache(cache_dir: Path, server: LoopbackServer) -> HealthCache:
    """Download every case's image into a new cache, then damage the files on disk."""
    urls = {c.name: server.route(f"/img/{c.name}", image(c.served, c.content_type)) for c in CASES}
    with ImageCache(cache_dir) as cache:
        entries = cache.add_urls(urls.values(), "events")
        results = list(cache.refresh_many(entries, RefreshMode.MISSING))
        assert all(r.ok for r in results), [r.error for r in results if not r.ok]
        by_url = {r.url: r.path for r in results}
        paths = {name: Path(str(by_url[url])) for name, url in urls.items()}
        for case in CASES:
            path = paths[case.name]
            if case.on_disk is None:
                path.unlink()
            else:
                path.write_bytes(case.on_disk)
        orphan = cache.root / "events" / ORPHAN_NAME
        orphan.write_bytes(ORPHAN_BYTES)
        cache.manifest.add_scanned_files(
            [ImageEntry(url=None, category="events", rel_path=f"events/{ORPHAN_NAME}")]
        )
    return HealthCache(cache.root, urls, paths, orphan)


def file_states(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every image file's mtime (ns) and bytes, to prove what a run left alone."""
    states = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            path = Path(folder, name)
            states[str(path)] = (path.stat().st_mtime_ns, path.read_bytes())
    return states
