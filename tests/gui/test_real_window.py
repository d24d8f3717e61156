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
from PIL import Image, ImageStat
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
from tests.server import LoopbackServer, image
from tests.uploads import SECRET, THUMBS, picture

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
class RunningWindow:
    session: XSession
    process: subprocess.Popen[bytes]
    window: str  # the X window id

    def key(self, *keys: str) -> None:
        self.session.xdotool("windowactivate", "--sync", self.window)
        for key in keys:
            self.session.xdotool("key", "--clearmodifiers", key)

    def geometry(self, window: str | None = None) -> Box:
        """The client area of the window (or of another of the program's) on the screen."""
        shell = self.session.xdotool("getwindowgeometry", "--shell", window or self.window)
        values = dict(line.split("=", 1) for line in shell.split())
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


def windows_named(session: XSession, title: str) -> list[str]:
    """The X ids of the visible windows whose title starts with `title`."""
    done = subprocess.run(
        [binary("xdotool"), "search", "--onlyvisible", "--name", f"^{title}"],
        env=session.environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.split()


@contextlib.contextmanager
def program_window(qtbot: QtBot, session: XSession, *arguments: str) -> Iterator[RunningWindow]:
    """`image-refresh ARGUMENTS...` on the X server, once its window is on the screen."""
    log = (session.shots.parent / "image-refresh.log").open("w")
    process = subprocess.Popen(
        [str(program()), *arguments],
        env=session.environment(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    windows: list[str] = []

    def window_found() -> bool:
        assert process.poll() is None, "the program ended before showing its window"
        windows[:] = windows_named(session, "Image Refresh")
        return bool(windows)

    try:
        qtbot.waitUntil(window_found, timeout=OPEN_TIMEOUT_MS)
        yield RunningWindow(session, process, windows[-1])
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=15)
        log.close()


@pytest.fixture
def demo(qtbot: QtBot, x_server: XSession) -> Iterator[RunningWindow]:
    """The demo window, its 24 pictures downloaded and shown in the table."""
    with program_window(qtbot, x_server, "gui", "--demo") as running:
        qtbot.waitUntil(lambda: len(running.cached_files()) >= DEMO_IMAGES, timeout=OPEN_TIMEOUT_MS)
        qtbot.waitUntil(lambda: len(table_thumbnails(x_server.screenshot())) >= 6)
        settled(qtbot, x_server)  # every download reported: nothing else repaints the views
        yield running


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
    qtbot: QtBot, demo: RunningWindow
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
    qtbot: QtBot, demo: RunningWindow
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
        return problems + pairs_side_by_side(pictures)

    shown_within(qtbot, session, proof_missing, "table-after")


def test_ctrl_q_closes_the_window_and_the_demo_leaves_the_users_settings_alone(
    qtbot: QtBot, demo: RunningWindow
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


# --- an adopted uploads folder ------------------------------------------------------------------
ADOPTED_ORIGINALS = 3
# Before a refresh the pictures are blue, after it green (the red channel is a ramp).
OLD_COLOUR, NEW_COLOUR = (0, 40, 200), (0, 220, 20)
PANE_SHARE = 0.32  # of the window's width, from its right edge: the details pane and a margin


@dataclass
class AdoptedUploads:
    root: Path
    originals: list[Path]


@pytest.fixture
def adopted_uploads(server: LoopbackServer, x_server: XSession, tmp_path: Path) -> AdoptedUploads:
    """Venue heroes with their thumbnails, adopted with the thumbnail rule and their keyed
    source URLs by the program's command line, as the user on the X server."""
    root = tmp_path / "uploads"
    rows = ["path,url"]
    originals = []
    for number in range(ADOPTED_ORIGINALS):
        folder = root / "venues" / f"hall-{number}"
        folder.mkdir(parents=True)
        original = folder / f"original_hero-{number}.jpg"
        original.write_bytes(picture(OLD_COLOUR, (640, 480)))
        (folder / f"thumb_hero-{number}.jpg").write_bytes(picture(OLD_COLOUR, (250, 250)))
        route = f"/venues/{number}/hero-{number}.jpg"
        url = server.route(route, image(picture(NEW_COLOUR, (800, 600))))
        rows.append(f"{original.relative_to(root)},{url}?key={SECRET}")
        originals.append(original)
    export = tmp_path / "export.csv"
    export.write_text("\n".join(rows) + "\n")
    adopted = subprocess.run(
        [str(program()), "adopt", str(root), "--sources", str(export), "--variant", THUMBS],
        env=x_server.environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert adopted.returncode == 0, adopted.stderr
    return AdoptedUploads(root, originals)


def hue(screen: Image.Image, box: Box) -> str:
    """ "old" (blue) or "new" (green): the colour of the middle of a picture on the screen."""
    left, top, right, bottom = box
    middle = screen.crop(
        (
            (left * 3 + right) // 4,
            (top * 3 + bottom) // 4,
            (left + right * 3) // 4,
            (top + bottom * 3) // 4,
        )
    )
    _red, green, blue = ImageStat.Stat(middle).mean
    return "old" if blue > green else "new"


def details_pictures(window: RunningWindow, screen: Image.Image) -> list[Box]:
    left, top, right, bottom = window.geometry()
    pane = (right - int((right - left) * PANE_SHARE), top, right, bottom)
    return boxes_of(screen, colourful, (60, 60), pane)


def pairs_side_by_side(pictures: list[Box]) -> list[str]:
    """Problems of pictures meant as rows of two: not side by side, not the same size."""
    problems = []
    for old, new in zip(pictures[::2], pictures[1::2], strict=False):
        if abs(old[1] - new[1]) > 3 or old[2] > new[0]:
            problems.append(f"not side by side: {old}, {new}")
        if abs((old[2] - old[0]) - (new[2] - new[0])) > 4:
            problems.append(f"the old picture is not as large as the new one: {old}, {new}")
        if new[2] > SCREEN[0] or new[3] > SCREEN[1]:
            problems.append(f"off the screen: {new}")
    return problems


def test_an_adopted_originals_variant_shows_old_beside_new_in_the_details_pane(
    qtbot: QtBot, x_server: XSession, adopted_uploads: AdoptedUploads
) -> None:
    with program_window(qtbot, x_server, "gui", "--cache-dir", str(adopted_uploads.root)) as window:
        qtbot.waitUntil(lambda: len(table_thumbnails(x_server.screenshot())) >= ADOPTED_ORIGINALS)
        window.key("ctrl+Home", "Down", "Up")  # the first original, hero-0, alone

        def not_as_it_is_now(screen: Image.Image) -> list[str]:
            # The original's picture, then its thumbnail's under it: both as they are (old).
            pictures = details_pictures(window, screen)
            if [hue(screen, box) for box in pictures] != ["old", "old"]:
                return [f"details pane pictures: {pictures}"]
            original, variant = pictures
            return [] if variant[1] > original[3] else [f"not one under the other: {pictures}"]

        shown_within(qtbot, x_server, not_as_it_is_now, "adopted-variants-before")
        x_server.saved.pop()  # not a picture for the README
        mtimes = {path: path.stat().st_mtime for path in adopted_uploads.originals}
        window.key("ctrl+a", "ctrl+shift+r")
        qtbot.waitUntil(
            lambda: all(path.stat().st_mtime != mtime for path, mtime in mtimes.items()),
            timeout=REFRESH_TIMEOUT_MS,
        )
        window.key("ctrl+Home", "Down", "Up")

        def not_old_beside_new(screen: Image.Image) -> list[str]:
            # The original old beside new on top; under it its thumbnail, old beside new.
            pictures = details_pictures(window, screen)
            hues = [hue(screen, box) for box in pictures]
            if hues != ["old", "new", "old", "new"]:
                return [f"details pane pictures {pictures} read {hues}"]
            return pairs_side_by_side(pictures)

        shown_within(qtbot, x_server, not_old_beside_new, "adopted-variants")


def test_folder_settings_of_an_adopted_folder_open_whole_on_the_screen(
    qtbot: QtBot, x_server: XSession, adopted_uploads: AdoptedUploads
) -> None:
    rules_files = list(x_server.home.glob(".local/share/*/adopted/*/variant-rules.json"))
    (rules_file,) = rules_files
    saved = rules_file.read_bytes()
    with program_window(qtbot, x_server, "gui", "--cache-dir", str(adopted_uploads.root)) as window:
        qtbot.waitUntil(lambda: len(table_thumbnails(x_server.screenshot())) >= ADOPTED_ORIGINALS)
        window.key("alt+f", "s")  # File ▸ Folder Settings…
        dialogs: list[str] = []

        def dialog_shown() -> bool:
            dialogs[:] = windows_named(x_server, "Folder Settings")
            return bool(dialogs)

        qtbot.waitUntil(dialog_shown)
        left, top, right, bottom = window.geometry(dialogs[0])
        assert left >= 0 and top >= 0 and right <= SCREEN[0] and bottom <= SCREEN[1], (
            f"the dialog at {left},{top} to {right},{bottom} is not whole on the screen"
        )
        assert right - left >= 500 and bottom - top >= 300
        settled(qtbot, x_server, "folder-settings")
        x_server.xdotool("windowactivate", "--sync", dialogs[0])
        x_server.xdotool("key", "--clearmodifiers", "Escape")
        qtbot.waitUntil(lambda: not windows_named(x_server, "Folder Settings"))
    assert rules_file.read_bytes() == saved  # cancelled: the rules as they were
