"""An uploads folder as a web app keeps it (Waffle's original_/thumb_ pairs in nested slug
folders, three kinds), with a database export of its source URLs, served by a loopback server
whose pictures then change: shared by the adopt tests of the command line, core and window."""

from __future__ import annotations

import csv
import io
import stat
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageChops, ImageOps, ImageStat

from tests.server import LoopbackServer, image, sequence

SECRET = "AIzaSyTOPSECRETvalue123"
THUMBS = "original_:thumb_:250x250:crop"
KINDS = ("venues", "performers", "google_place_images")


def picture(colour: tuple[int, int, int], size: tuple[int, int], fmt: str = "JPEG") -> bytes:
    """A picture with a colour gradient, so a crop shows which part was kept."""
    base = Image.new("RGB", size, colour)
    ramp = Image.linear_gradient("L").resize(size)
    out = io.BytesIO()
    Image.merge("RGB", (ramp, base.getchannel(1), base.getchannel(2))).save(out, fmt)
    return out.getvalue()


@dataclass
class Uploads:
    root: Path
    sources: Path
    originals: dict[Path, str] = field(default_factory=dict)  # original -> its source URL
    new_bodies: dict[Path, bytes] = field(default_factory=dict)
    unsourced: list[Path] = field(default_factory=list)


def build_uploads(tmp_path: Path, server: LoopbackServer, count: int = 30) -> Uploads:
    """Three kinds of images in nested slug folders, original_/thumb_ pairs, a PNG saved as
    .jpg, hidden files, files without a source, and a CSV export with bad rows and keyed URLs."""
    root = tmp_path / "uploads"
    uploads = Uploads(root, tmp_path / "export.csv")
    rows: list[dict[str, str]] = []
    for n in range(count):
        for kind in KINDS:
            if kind == "venues":
                folder, name = root / kind / f"hall-{n}", f"hero-{n}.jpg"
            elif kind == "performers":
                folder, name = root / kind / f"lee-park-{n}-{100 + n}", f"face{n}.jpg"
            else:
                folder, name = root / kind / f"place-{n}", f"google_place_{n}.jpg"
            folder.mkdir(parents=True)
            original = folder / f"original_{name}"
            old_colour, new_colour = (20 + n, 40, 200), (200, 40 + n, 20)
            as_png = kind == "google_place_images" and n % 5 == 0  # saved as .jpg, really PNG
            original.write_bytes(picture(old_colour, (640, 480), "PNG" if as_png else "JPEG"))
            (folder / f"thumb_{name}").write_bytes(picture(old_colour, (250, 250)))
            if kind == "performers" and n % 7 == 0:
                uploads.unsourced.append(original)  # the database knows no source for it
                continue
            route = f"/{kind}/{n}/{name}"
            new_body = picture(new_colour, (800, 600), "PNG" if as_png else "JPEG")
            server.route(route, sequence(image(new_body)))
            url = server.url(route)
            if kind == "google_place_images":
                url += f"?maxwidth=800&photo_reference=ref{n}&key={SECRET}"
            uploads.originals[original] = url
            uploads.new_bodies[original] = new_body
            rows.append({"path": str(original.relative_to(root)), "url": url})
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "venues" / ".cache").mkdir()
    (root / "venues" / ".cache" / "x.jpg").write_bytes(picture((1, 2, 3), (10, 10)))
    rows += [
        {"path": "venues/nowhere/original_gone.txt", "url": server.url("/x.jpg")},  # unknown
        {"path": "../outside/original_x.jpg", "url": server.url("/x.jpg")},  # outside
        {"path": rows[0]["path"], "url": rows[0]["url"]},  # duplicate path
        {"path": str(uploads.unsourced[0].relative_to(root)), "url": "ftp://files/a.jpg"},  # bad
    ]
    with uploads.sources.open("w", newline="") as out:
        writer = csv.DictWriter(out, ["id", "path", "url"])
        writer.writeheader()
        writer.writerows({"id": str(i), **row} for i, row in enumerate(rows))
    return uploads


def listing(root: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file and folder below `root`: the bytes, mtime and permission bits of files (a
    folder's own mtime changes with any file replaced in it, so only its name and mode count)."""
    found: dict[str, tuple[bytes, int, int]] = {}
    for path in sorted(root.rglob("*")):
        info = path.stat()
        mode = stat.S_IMODE(info.st_mode)
        if path.is_file():
            found[str(path.relative_to(root))] = (path.read_bytes(), info.st_mtime_ns, mode)
        else:
            found[str(path.relative_to(root))] = (b"", 0, mode)
    return found


def thumbnail_of(body: bytes) -> Image.Image:
    """The reference: Pillow's centre crop of the new original to 250x250."""
    with Image.open(io.BytesIO(body)) as opened:
        return ImageOps.fit(opened.convert("RGB"), (250, 250), Image.Resampling.LANCZOS)


def close_to(path: Path, reference: Image.Image) -> bool:
    with Image.open(path) as made:
        difference = ImageChops.difference(made.convert("RGB"), reference)
        return max(ImageStat.Stat(difference).mean) < 6  # JPEG noise, not another crop
