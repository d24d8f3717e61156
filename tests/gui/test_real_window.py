"""The window as an editor sees it: the real program on a real X server with a window manager,
driven with xdotool, its screen captured from outside the program and its pixels read.

Each test starts `image-refresh gui --demo` (24 generated pictures on a loopback server, a
throwaway cache) on a 1366 x 768 screen at its first-run size.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtGui import QFontMetrics, QGuiApplication
from pytestqt.qtbot import QtBot

from gui.cell_paint import BADGE
from tests.gui.xserver import (
    SCREEN,
    Box,
    XSession,
    binary,
    boxes_of,
    close_to,
    colourful,
    differs,
    distinct_colours,
    greenish,
)

pytestmark = pytest.mark.xvfb

DEMO_IMAGES = 24
DEMO_CATEGORIES = ("events", "performers", "venues")
OPEN_TIMEOUT_MS = 30_000
REFRESH_TIMEOUT_MS = 30_000
PAINT_TIMEOUT_MS = 20_000  # a loaded machine decodes slowly; the bug never paints at all
STABLE_MS = 400  # the screen is settled when two screenshots this far apart are the same
MIN_FULL_TILES = 8  # at the first-run size the grid shows at least two full rows of tiles
PICTURE_COLOURS = 60  # a demo picture's centre has hundreds of colours; a placeholder a few


Problems = Callable[[Image.Image], list[str]]  # what a screenshot shows wrong, if anything


@dataclass
class RunningDemo:
    session: XSession
    process: subprocess.Popen[bytes]
    window: str  # the X window id

    def key(self, *keys: str) -> None:
        self.session.xdotool("windowactivate", "--sync", self.window)
        for key in keys:
            self.session.xdotool("key", "--clearmodifiers", key)

    def geometry(self) -> Box:
        """The window's client area on the screen."""
        values = dict(
            line.split("=", 1)
            for line in self.session.xdotool("getwindowgeometry", "--shell", self.window).split()
        )
        x, y = int(values["X"]), int(values["Y"])
        return x, y, x + int(values["WIDTH"]), y + int(values["HEIGHT"])

    def cached_files(self) -> list[Path]:
        """The demo's pictures in its cache (not the program's own files there)."""
        return [
            path
            for path in self.session.tmp.glob("image-refresh-demo-*/**/*")
            if path.parent.name in DEMO_CATEGORIES and path.is_file()
        ]


def program() -> Path:
    script = Path(sys.executable).with_name("image-refresh")
    assert script.exists(), f"{script} is missing: pip install -e '.[test]'"
    return script


@pytest.fixture
def demo(qtbot: QtBot, x_server: XSession) -> Iterator[RunningDemo]:
    """The demo window, its 24 pictures downloaded and shown in the table."""
    log = (x_server.shots.parent / "image-refresh.log").open("w")
    process = subprocess.Popen(
        [str(program()), "gui", "--demo"],
        env=x_server.environment(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    windows: list[str] = []

    def window_found() -> bool:
        assert process.poll() is None, "the program ended before showing its window"
        done = subprocess.run(
            [binary("xdotool"), "search", "--onlyvisible", "--name", "^Image Refresh"],
            env=x_server.environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        windows[:] = done.stdout.split()
        return bool(windows)

    try:
        qtbot.waitUntil(window_found, timeout=OPEN_TIMEOUT_MS)
        running = RunningDemo(x_server, process, windows[-1])
        qtbot.waitUntil(lambda: len(running.cached_files()) >= DEMO_IMAGES, timeout=OPEN_TIMEOUT_MS)
        qtbot.waitUntil(lambda: len(table_thumbnails(x_server.screenshot())) >= 6)
        settled(qtbot, x_server)  # every download reported: nothing else repaints the views
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=15)
        log.close()


def table_thumbnails(screen: Image.Image) -> list[Box]:
    """The table's thumbnails (48 pixels wide) seen on the screen."""
    return [box for box in boxes_of(screen, colourful, (40, 24)) if box[2] - box[0] <= 50]


def settled(qtbot: QtBot, session: XSession, name: str | None = None) -> Image.Image:
    """The screen once nothing moves on it any more (or after PAINT_TIMEOUT_MS: a wait, not a
    check; the checks poll for what they check), kept as `name` if given."""
    shots: list[Image.Image] = [session.screenshot()]

    def same_twice() -> bool:
        qtbot.wait(STABLE_MS)
        shots[:] = [shots[-1], session.screenshot()]
        return shots[-1].tobytes() == shots[-2].tobytes()

    with contextlib.suppress(qtbot.TimeoutError):
        qtbot.waitUntil(same_twice, timeout=PAINT_TIMEOUT_MS)
    if name is not None:
        keep(session, shots[-1], name)
    return shots[-1]


def keep(session: XSession, screen: Image.Image, name: str) -> None:
    screen.save(session.shots / f"{name}.png")
    session.saved.append(session.shots / f"{name}.png")


def highlight() -> tuple[int, int, int]:
    """The selection colour: the program and this test process use the same style (Fusion)."""
    colour = QGuiApplication.palette().highlight().color()
    return colour.red(), colour.green(), colour.blue()


def tile_slots(screen: Image.Image) -> list[Box]:
    """The grid's fully visible tiles, found by their selection fill (every tile selected)."""
    return boxes_of(screen, close_to(highlight(), 8), (100, 150))


def picture_area(slot: Box) -> Box:
    """The middle of where a tile draws its thumbnail: inside the picture whatever its shape."""
    left, top, right, _bottom = slot
    edge = (right - left + 4) - 36
    middle_x, middle_y = (left + right) // 2, top + 4 + edge // 2
    return middle_x - edge // 4, middle_y - edge // 8, middle_x + edge // 4, middle_y + edge // 8


def shows_a_picture(screen: Image.Image, slot: Box) -> bool:
    return distinct_colours(screen, picture_area(slot)) >= PICTURE_COLOURS


def shown_within(
    qtbot: QtBot, session: XSession, problems: Callable[[Image.Image], list[str]], name: str
) -> Image.Image:
    """Screenshots until `problems(screen)` finds none, or PAINT_TIMEOUT_MS has passed and the
    test fails with the problems still shown. Kept as `name`: the screen once it is still."""
    shots: list[Image.Image] = []

    def none_left() -> bool:
        shots[:] = [session.screenshot()]
        return not problems(shots[0])

    with contextlib.suppress(qtbot.TimeoutError):
        qtbot.waitUntil(none_left, timeout=PAINT_TIMEOUT_MS)
    screen = shots[0]
    left = problems(screen)
    if left:
        keep(session, screen, name)
        pytest.fail(f"{name}: " + "; ".join(left))
    still = settled(qtbot, session)  # for a person: once the progress bar has gone too
    keep(session, still if not problems(still) else screen, name)
    return screen


def blank_tiles(slots: list[Box], before: Image.Image | None = None) -> Problems:
    """Tiles without a picture (or, given the screen `before`, without a new one)."""

    def problems(screen: Image.Image) -> list[str]:
        new = "new " if before is not None else ""
        return [
            f"tile {number} of {len(slots)} at {slot[:2]} shows no {new}picture"
            for number, slot in enumerate(slots)
            if not shows_a_picture(screen, slot)
            or (before is not None and not differs(before, screen, picture_area(slot)))
        ]

    return problems


def test_grid_paints_every_tile_after_switching_and_after_a_force_refresh(
    qtbot: QtBot, demo: RunningDemo
) -> None:
    session = demo.session
    # Every row selected in the table first: in the grid each tile's selection fill shows where
    # it is from its very first paint (selecting later would repaint the tiles).
    demo.key("ctrl+a", "ctrl+2")
    qtbot.waitUntil(lambda: len(tile_slots(session.screenshot())) >= MIN_FULL_TILES)
    slots = tile_slots(session.screenshot())
    switched = shown_within(qtbot, session, blank_tiles(slots), "grid-before")

    mtimes = {path: path.stat().st_mtime for path in demo.cached_files()}
    demo.key("ctrl+shift+r")
    qtbot.waitUntil(
        lambda: all(path.stat().st_mtime != mtime for path, mtime in mtimes.items()),
        timeout=REFRESH_TIMEOUT_MS,
    )
    refreshed = shown_within(qtbot, session, blank_tiles(slots, switched), "grid-after")

    # Scrolling shows whole tiles, not halves of old paint (the wheel keeps the selection).
    left, top, right, bottom = slots[0]
    session.xdotool("mousemove", str((left + right) // 2), str((top + bottom) // 2))
    for _ in range(3):
        session.xdotool("click", "5")

    def scrolled_blank(screen: Image.Image) -> list[str]:
        moved = tile_slots(screen)
        if not moved or (moved == slots and not differs(refreshed, screen, picture_area(slots[0]))):
            return ["the grid has not scrolled"]
        return blank_tiles(moved)(screen)

    shown_within(qtbot, session, scrolled_blank, "grid-scrolled")
    session.saved.pop()  # not a picture for the README


def refreshed_rows(screen: Image.Image, table: Box) -> list[tuple[Box, int]]:
    """Each unselected refreshed row's mark (a green disc) and how far its green text reaches
    to the right of it, in pixels."""
    selected = close_to(highlight(), 8)
    middles = [(box[1] + box[3]) // 2 for box in table_thumbnails(screen)]
    rows = []
    for badge in boxes_of(screen, greenish, (BADGE - 2, BADGE - 2), table):
        middle = (badge[1] + badge[3]) // 2
        if not BADGE - 2 <= badge[2] - badge[0] <= BADGE + 2:
            continue
        if not any(abs(middle - row) <= 6 for row in middles):
            continue  # not on a row of the table (a green icon of the toolbar)
        band = (badge[0], badge[1] - 10, table[2], badge[3] + 10)
        if selected(screen.crop(band)).getbbox() is not None:
            continue  # a selected row's text is drawn in the highlight's text colour
        ink = greenish(screen.crop(band)).getbbox()
        rows.append((badge, ink[2] if ink else 0))
    return rows


def test_first_run_window_fits_the_screen_and_shows_the_proof_of_a_refresh(
    qtbot: QtBot, demo: RunningDemo
) -> None:
    session = demo.session
    left, top, right, bottom = demo.geometry()
    assert left >= 0 and top >= 0 and right <= SCREEN[0] and bottom <= SCREEN[1], (
        f"the window {right - left}x{bottom - top} at {left},{top} does not fit a {SCREEN} screen"
    )
    # An editor looks at an image (its details pane shows it), then force-refreshes them all.
    # Ctrl moves the current row without selecting; Down and Up then select the first row only.
    demo.key("ctrl+Home", "Down", "Up")
    settled(qtbot, session, "table-before")
    mtimes = {path: path.stat().st_mtime for path in demo.cached_files()}
    demo.key("ctrl+a", "ctrl+shift+r")
    qtbot.waitUntil(
        lambda: all(path.stat().st_mtime != mtime for path, mtime in mtimes.items()),
        timeout=REFRESH_TIMEOUT_MS,
    )
    demo.key("ctrl+Home", "Down", "Up")  # the first row alone again
    times = QFontMetrics(QGuiApplication.font()).horizontalAdvance("00:00:00.000 → 00:00:00.000")
    table = (left, top, left + (right - left) * 3 // 4, bottom)

    def proof_missing(screen: Image.Image) -> list[str]:
        # Before → after on every unselected row, whole: "02:32:56.338 → 02:33:11.354".
        rows = refreshed_rows(screen, table)
        problems = [f"{len(rows)} refreshed rows seen in the table"] if len(rows) < 6 else []
        problems += [
            f"the row at y={badge[1]} shows {reach} pixels of its refresh, not the whole "
            f"before → after ({BADGE + 4 + times} pixels)"
            for badge, reach in rows
            if reach < BADGE + 4 + times - 6
        ]
        # The selected row's old and new pictures, side by side, the same size, on the screen.
        pictures = [b for b in boxes_of(screen, colourful, (120, 70)) if b[0] > table[2] - 200]
        if len(pictures) != 2:
            return [*problems, f"details pane pictures: {pictures}"]
        old, new = pictures
        if abs(old[1] - new[1]) > 3 or old[2] > new[0]:
            problems.append(f"the pictures are not side by side: {old}, {new}")
        if abs((old[2] - old[0]) - (new[2] - new[0])) > 4:
            problems.append(f"the old picture is not as large as the new one: {old}, {new}")
        if new[2] > SCREEN[0] or new[3] > SCREEN[1]:
            problems.append(f"the new picture is off the screen: {new}")
        return problems

    shown_within(qtbot, session, proof_missing, "table-after")


def test_ctrl_q_closes_the_window_and_the_demo_leaves_the_users_settings_alone(
    qtbot: QtBot, demo: RunningDemo
) -> None:
    home = demo.session.home
    demo.key("ctrl+q")
    try:
        status = demo.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail("Ctrl+Q did not close the window")
    assert status == 0
    # The demo's window size, folders and log were throwaway: none of the user's changed.
    touched = sorted(
        str(path.relative_to(home))
        for path in home.rglob("*")
        if path.is_file() and "openbox" not in path.parts and "fontconfig" not in path.parts
    )
    assert touched == [], f"the demo wrote into the user's folders: {touched}"
    assert not list(demo.session.tmp.glob("image-refresh-demo-*")), "throwaway folder left"
