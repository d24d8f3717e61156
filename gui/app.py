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
from gui.app_settings import AppSettings
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


NO_DISPLAY = (
    "No display found: the window needs a graphical session (DISPLAY or WAYLAND_DISPLAY is not "
    "set).\nThe command line works without one (image-refresh --help); "
    "`image-refresh gui --demo` runs the demo offscreen and saves screenshots."
)
DEMO_WITH_CACHE_DIR = (
    "image-refresh gui: error: the demo uses a throwaway cache of its own and never writes into "
    "a cache you name: leave out --cache-dir to see the demo, or --demo to open that cache"
)
EXIT_NO_DISPLAY = 1
EXIT_USAGE = 2


def run(args: argparse.Namespace) -> int:
    screenshot: Path | None = args.screenshot
    demo = bool(args.demo or screenshot is not None)  # --screenshot runs the demo by itself
    if demo and args.cache_dir is not None:
        print(DEMO_WITH_CACHE_DIR, file=sys.stderr)
        return EXIT_USAGE
    if not has_display():
        if not demo:
            print(NO_DISPLAY, file=sys.stderr)
            return EXIT_NO_DISPLAY
        print(
            "No display found: running the demo offscreen, force-refreshing every image and "
            "saving screenshots of the window."
        )
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        screenshot = screenshot or Path(tempfile.gettempdir()) / "image-refresh-demo.png"
    # The demo's cache, settings and log live in a throwaway folder: it never changes the
    # user's window size, folders or log, nor a cache of theirs.
    workspace = Path(tempfile.mkdtemp(prefix="image-refresh-demo-")) if demo else None
    log_output = configure_logging(
        args.verbose, log_dir=workspace / "logs" if workspace is not None else None
    )
    app = create_application()
    window = MainWindow(AppSettings(workspace / "settings.ini") if workspace else None)
    server: DemoServer | None = None
    folder: Path
    if workspace is not None:
        server = DemoServer()
        server.start()
        folder = workspace / "cache"
        window.folder_label = "demo (a throwaway cache, deleted on exit)"
        demo_urls = server.urls()

        def add_demo_images(_folder: str) -> None:
            window.cache_opened.disconnect(add_demo_images)
            for category, urls in demo_urls.items():
                window.add_urls(urls, category, reveal=False)

        window.cache_opened.connect(add_demo_images)
    else:
        folder = args.cache_dir or window.preferences.cache_dir or default_cache_dir()
    script = ScriptedDemo(window, screenshot, expected=24) if screenshot is not None else None
    _close_on_interrupt(window)
    window.show()
    window.open_cache(folder, remember=workspace is None)
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
        if workspace is not None:
            shutil.rmtree(workspace, ignore_errors=True)
