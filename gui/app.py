"""Starting the window: a real display, the demo, or a headless run that still does the job."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from core.logging_setup import configure_logging
from core.settings import default_cache_dir
from gui.demo_server import DemoServer
from gui.icons import icon
from gui.main_window import MainWindow
from gui.scripted_demo import ScriptedDemo


def has_display() -> bool:
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def create_application() -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("Image Refresh")
    app.setOrganizationName("ImageRefresh")
    app.setDesktopFileName("image-refresh")
    app.setWindowIcon(icon("app"))
    return app


def _close_on_interrupt(window: MainWindow) -> None:
    """Ctrl+C in the terminal closes the window cleanly (Qt's loop would otherwise ignore it)."""
    signal.signal(signal.SIGINT, lambda _signum, _frame: window.close())
    wake = QTimer(window)  # lets the interpreter run its signal handlers while Qt waits
    wake.start(250)
    wake.timeout.connect(lambda: None)


def run(args: argparse.Namespace) -> int:
    screenshot: Path | None = args.screenshot
    if not has_display():
        print(
            "No display found: running the demo offscreen, force-refreshing every image and "
            "saving screenshots of the window."
        )
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        screenshot = screenshot or Path(tempfile.gettempdir()) / "image-refresh-demo.png"
    if screenshot is not None:
        args.demo = True  # --screenshot runs the demo by itself, on a display or not
    log_output = configure_logging(args.verbose)
    app = create_application()
    window = MainWindow()
    server: DemoServer | None = None
    temporary_cache: Path | None = None
    folder: Path
    if args.demo:
        server = DemoServer()
        server.start()
        if args.cache_dir is None:
            temporary_cache = Path(tempfile.mkdtemp(prefix="image-refresh-demo-"))
        folder = args.cache_dir or temporary_cache or Path()
        demo_urls = server.urls()

        def add_demo_images(_folder: str) -> None:
            window.cache_opened.disconnect(add_demo_images)
            for category, urls in demo_urls.items():
                window.add_urls(urls, category)

        window.cache_opened.connect(add_demo_images)
    else:
        folder = args.cache_dir or window.preferences.cache_dir or default_cache_dir()
    script = ScriptedDemo(window, screenshot, expected=24) if screenshot is not None else None
    _close_on_interrupt(window)
    window.show()
    window.open_cache(folder, remember=not args.demo)
    if script is not None:
        script.finished.connect(app.exit)
        script.start()
    try:
        return app.exec()
    finally:
        window.close()
        if server is not None:
            server.stop()
        log_output.close()
        if temporary_cache is not None:
            shutil.rmtree(temporary_cache, ignore_errors=True)
