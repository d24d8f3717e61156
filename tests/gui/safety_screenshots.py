"""The README's safety-net screenshots: a real window on a loopback server whose pictures change,
one turned into a flat grey box and one into the "image removed" picture the user marked.

Not a test. Run on a display (here: Xvfb), writes PNGs into a folder:

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python -m tests.gui.safety_screenshots docs
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QEventLoop, QItemSelectionModel, QTimer, SignalInstance
from PySide6.QtWidgets import QApplication

from core.cache import ImageCache
from core.models import RefreshMode
from core.placeholders import PlaceholderList
from core.settings import RefreshSettings
from gui.demo_server import draw_version
from gui.main_window import MainWindow
from tests.pictures import flat, reencoded, removed
from tests.server import LoopbackServer, image, serve

WAIT_MS = 20_000


def wait_for(signal: SignalInstance, start: Callable[[], object]) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(WAIT_MS, loop.quit)
    start()
    loop.exec()
    signal.disconnect(loop.quit)


def settle(ms: int = 400) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def jpeg(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as opened:
        out = io.BytesIO()
        opened.convert("RGB").save(out, "JPEG", quality=90)
        return out.getvalue()


def select(window: MainWindow, url: str) -> None:
    flags = QItemSelectionModel.SelectionFlag
    index = window.proxy.mapFromSource(window.model.index_for_key(url))
    window.table.selectionModel().setCurrentIndex(index, flags.ClearAndSelect | flags.Rows)


def main(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="safety-shots-"))
    for variable in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        os.environ[variable] = str(work / variable.lower())
    marked = work / "image-removed.jpg"
    marked.write_bytes(removed((640, 400)))
    PlaceholderList().add(marked, RefreshSettings().max_pixels)

    app = QApplication.instance() or QApplication(sys.argv)
    server_iter = serve(LoopbackServer("127.0.0.1", 0))
    server = next(server_iter)
    names = {
        "/events/summer-gala.jpg": "changed",
        "/events/jazz-night.jpg": "same picture",
        "/performers/the-quartet.jpg": "flat grey",
        "/venues/old-theatre.jpg": "removed",
        "/venues/river-stage.jpg": "changed",
    }
    first = {path: jpeg(draw_version(path.rsplit("/", 1)[1], 1, ".png")) for path in names}
    cache_dir = work / "cache"
    with ImageCache(cache_dir, RefreshSettings()) as cache:
        for path, body in first.items():
            url = server.route(path, image(body))
            (entry,) = cache.add_urls([url], path.split("/")[1])
            cache.refresh(entry, RefreshMode.MISSING)
    for path, kind in names.items():
        body = {
            "changed": lambda p: jpeg(draw_version(p.rsplit("/", 1)[1], 2, ".png")),
            "same picture": lambda p: reencoded(first[p], quality=55, scale=0.9),
            "flat grey": lambda _p: flat((150, 150, 150), (640, 400)),
            "removed": lambda _p: reencoded(removed((640, 400)), quality=60, scale=0.8),
        }[kind](path)
        server.route(path, image(body))

    window = MainWindow()
    window.resize(1500, 820)
    wait_for(window.cache_opened, lambda: window.open_cache(cache_dir))
    window.show()
    window.set_view("table")
    settle()
    window.table.selectAll()
    wait_for(window.controller.batch_finished, window.commands.force_refresh.trigger)
    gala = server.url("/events/summer-gala.jpg")
    select(window, gala)
    settle(800)
    window.grab().save(str(folder / "safety-after-refresh.png"))

    wait_for(window.controller.batch_finished, window.safety.undo.trigger)
    select(window, gala)
    settle(800)
    window.grab().save(str(folder / "safety-after-undo.png"))

    wait_for(window.controller.batch_finished, window.safety.undo.trigger)  # redo
    window.set_view("grid")
    window.safety.changed_only.setChecked(True)
    settle(800)
    window.grab().save(str(folder / "safety-only-changed.png"))
    window.close()
    server_iter.close()
    app.processEvents()
    for name in ("safety-after-refresh", "safety-after-undo", "safety-only-changed"):
        print(f"screenshot: {folder / (name + '.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")))
