"""A real X server for the window tests: Xvfb with a window manager (openbox), the real program
started on it, driven with xdotool, and the screen captured from outside the program.

Offscreen rendering and a widget's own grab() repaint everything on demand, so they hide repaint
bugs; a screenshot of the X server shows what an editor sees. Everything here is plain helpers
(the fixture is in conftest.py); the pictures are analysed with Pillow only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageGrab

SCREEN = (1366, 768)  # a common laptop screen, the smallest the window is designed for
START_TIMEOUT_MS = 10_000
Box = tuple[int, int, int, int]  # left, top, right, bottom (exclusive), in screen pixels


def binary(name: str) -> str:
    """The path of a program the X-server tests need: missing, the test fails on CI (where
    `make test` installs it) and is skipped elsewhere."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (`make system-deps` installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)  # on CI the window tests must run, never silently skip
        pytest.skip(message)
    return found


WaitUntil = Callable[..., None]  # QtBot.waitUntil


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running_xvfb(
    wait_until: WaitUntil, folder: Path, size: tuple[int, int] = (1600, 1000)
) -> Iterator[str]:
    """A private Xvfb; yields its DISPLAY value, stops it on the way out.

    Xvfb picks a free display number itself and writes it to a pipe once it accepts clients
    (-displayfd): no race with another test run looking for a free number at the same time.
    """
    log = (folder / "xvfb.log").open("w")
    width, height = size
    reader, writer = os.pipe()
    server = subprocess.Popen(
        [
            binary("Xvfb"),
            "-displayfd",
            str(writer),
            "-screen",
            "0",
            f"{width}x{height}x24",
            "-nolisten",
            "tcp",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        pass_fds=(writer,),
    )
    os.close(writer)
    announced = b""
    try:
        os.set_blocking(reader, False)

        def ready() -> bool:
            nonlocal announced
            with contextlib.suppress(BlockingIOError):
                announced += os.read(reader, 64)
            return announced.endswith(b"\n") or server.poll() is not None

        wait_until(ready, timeout=START_TIMEOUT_MS)
        assert server.poll() is None, (folder / "xvfb.log").read_text()
        yield f":{announced.decode().strip()}"
    finally:
        os.close(reader)
        _stop(server)  # SIGTERM: Xvfb removes its socket and lock file
        log.close()


@dataclass
class XSession:
    """An X server with a window manager, and the private folders of the programs run on it."""

    display: str
    home: Path  # HOME and the XDG folders of the program under test: its "user"
    tmp: Path  # its TMPDIR (the demo's throwaway folder lands here)
    shots: Path  # screenshots kept for a person to look at
    saved: list[Path] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "XDG_"))}
        env.pop("WAYLAND_DISPLAY", None)
        env.update(
            DISPLAY=self.display,
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            XDG_STATE_HOME=str(self.home / ".local" / "state"),
            XDG_DATA_HOME=str(self.home / ".local" / "share"),
            TMPDIR=str(self.tmp),
            IMAGE_REFRESH_CACHE_DIR=str(self.home / "default-cache"),
        )
        return env

    def xdotool(self, *arguments: str) -> str:
        done = subprocess.run(
            [binary("xdotool"), *arguments],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        assert done.returncode == 0, f"xdotool {' '.join(arguments)}: {done.stderr}"
        return done.stdout

    def screenshot(self, name: str | None = None) -> Image.Image:
        """The whole screen, read from the X server (not from the program)."""
        picture = ImageGrab.grab(xdisplay=self.display).convert("RGB")
        if name is not None:
            path = self.shots / f"{name}.png"
            picture.save(path)
            self.saved.append(path)
        return picture


@contextlib.contextmanager
def x_session(wait_until: WaitUntil, folder: Path) -> Iterator[XSession]:
    """Xvfb at 1366 x 768 with openbox managing the windows, as on an editor's laptop."""
    home, tmp, shots = folder / "home", folder / "tmp", folder / "shots"
    for made in (home, tmp, shots):
        made.mkdir(parents=True)
    with running_xvfb(wait_until, folder, SCREEN) as display:
        session = XSession(display, home, tmp, shots)
        log = (folder / "openbox.log").open("w")
        manager = subprocess.Popen(
            [binary("openbox"), "--sm-disable"],
            env=session.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: _manages(session) or manager.poll() is not None, timeout=10_000)
            assert manager.poll() is None, (folder / "openbox.log").read_text()
            yield session
        finally:
            _stop(manager)
            log.close()


def _manages(session: XSession) -> bool:
    """The window manager has taken the screen (it names the current desktop)."""
    done = subprocess.run(
        [binary("xdotool"), "get_desktop"],
        env=session.environment(),
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return done.returncode == 0 and done.stdout.strip().isdigit()


# --- reading pictures ---------------------------------------------------------------------------
# A pixel test is a function from an RGB picture to an "L" mask (0 or 1), built of Pillow's own
# operations so that a screen of a million pixels is read in milliseconds.
PixelTest = Callable[[Image.Image], Image.Image]


def _binary(grey: Image.Image, threshold: int) -> Image.Image:
    return grey.point(lambda value: 1 if value >= threshold else 0)


def close_to(colour: tuple[int, int, int], tolerance: int) -> PixelTest:
    def test(picture: Image.Image) -> Image.Image:
        difference = ImageChops.difference(picture, Image.new("RGB", picture.size, colour))
        red, green, blue = difference.split()
        largest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
        return largest.point(lambda value: 1 if value <= tolerance else 0)

    return test


def colourful(picture: Image.Image) -> Image.Image:
    """Saturated pixels: the demo's pictures are bright gradients; the window's chrome is grey."""
    red, green, blue = picture.split()
    largest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    smallest = ImageChops.darker(ImageChops.darker(red, green), blue)
    return _binary(ImageChops.subtract(largest, smallest), 60)


def greenish(picture: Image.Image) -> Image.Image:
    """The colour of a refreshed row's text and mark (green, or antialiased toward white)."""
    red, green, blue = picture.split()
    return _binary(ImageChops.subtract(green, ImageChops.lighter(red, blue)), 35)


def components(mask: bytes, width: int) -> list[Box]:
    """Bounding boxes of the 8-connected regions of a mask (a byte per pixel, 0 or 1), found
    from the runs of each row."""
    parent: list[int] = []

    def find(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    boxes: list[list[int]] = []
    previous: list[tuple[int, int, int]] = []  # (start, end, run id) of the row above
    for y in range(len(mask) // width):
        row = mask[y * width : (y + 1) * width]
        current: list[tuple[int, int, int]] = []
        x = row.find(1)
        while x != -1:
            end = row.find(0, x)
            end = width if end == -1 else end
            node = len(parent)
            parent.append(node)
            boxes.append([x, y, end, y + 1])
            for start_above, end_above, above in previous:
                if start_above <= end and end_above >= x:  # touching, diagonals included
                    root_a, root_b = find(above), find(node)
                    if root_a != root_b:
                        parent[root_b] = root_a
            current.append((x, end, node))
            x = row.find(1, end)
        previous = current
    merged: dict[int, list[int]] = {}
    for node, (left, top, right, bottom) in enumerate(boxes):
        box = merged.setdefault(find(node), [left, top, right, bottom])
        box[0], box[1] = min(box[0], left), min(box[1], top)
        box[2], box[3] = max(box[2], right), max(box[3], bottom)
    return [(b[0], b[1], b[2], b[3]) for b in merged.values()]


def boxes_of(
    picture: Image.Image,
    test: PixelTest,
    min_size: tuple[int, int],
    region: Box | None = None,
) -> list[Box]:
    """Regions of the pixels that pass `test`, at least `min_size`, in screen coordinates, in
    reading order."""
    left, top = (region[0], region[1]) if region else (0, 0)
    part = picture.crop(region) if region else picture
    mask, width = test(part).tobytes(), part.width
    found = [
        (x0 + left, y0 + top, x1 + left, y1 + top)
        for x0, y0, x1, y1 in components(mask, width)
        if x1 - x0 >= min_size[0] and y1 - y0 >= min_size[1]
    ]
    return sorted(found, key=lambda box: (box[1] // 8, box[0]))


def distinct_colours(picture: Image.Image, box: Box) -> int:
    colours = picture.crop(box).getcolors(maxcolors=1 << 16)
    return len(colours) if colours is not None else 1 << 16


def differs(before: Image.Image, after: Image.Image, box: Box, threshold: float = 12.0) -> bool:
    """The region changed visibly (a new version of a demo picture has another hue)."""
    difference = ImageChops.difference(before.crop(box), after.crop(box)).convert("L")
    histogram = difference.histogram()
    total = sum(histogram) or 1
    return sum(value * count for value, count in enumerate(histogram)) / total >= threshold
