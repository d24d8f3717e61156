"""Time from exec to the first window mapped on an X server: how fast the window opens.

    python packaging/startup_time.py --runs 7 -- image-refresh gui --cache-dir /tmp/empty

starts its own Xvfb, watches the root window for MapNotify (the window manager's view of "the window
is shown") and prints the median. No change to the program is needed. With --cold, the kernel's
page cache is dropped before each run (root, outside containers), as after a reboot.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

SUBSTRUCTURE_NOTIFY_MASK = 1 << 19
MAP_NOTIFY = 19
DROP_CACHES = Path("/proc/sys/vm/drop_caches")


class XEvent(ctypes.Union):
    _fields_ = [("type", ctypes.c_int), ("pad", ctypes.c_long * 24)]


class MapWatcher:
    """An X connection that hears about every window mapped on the root window."""

    def __init__(self, display: str) -> None:
        self.x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        self.x11.XOpenDisplay.restype = ctypes.c_void_p
        self.x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        for name in ("XDefaultRootWindow", "XConnectionNumber", "XPending", "XFlush"):
            getattr(self.x11, name).argtypes = [ctypes.c_void_p]
        self.x11.XDefaultRootWindow.restype = ctypes.c_ulong
        self.x11.XSelectInput.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_long]
        self.x11.XNextEvent.argtypes = [ctypes.c_void_p, ctypes.POINTER(XEvent)]
        self.x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self.display = self.x11.XOpenDisplay(display.encode())
        if not self.display:
            raise OSError(f"cannot open X display {display}")
        root = self.x11.XDefaultRootWindow(self.display)
        self.x11.XSelectInput(self.display, root, SUBSTRUCTURE_NOTIFY_MASK)
        self.x11.XFlush(self.display)
        self.fd = self.x11.XConnectionNumber(self.display)

    def _next_map(self) -> bool:
        event = XEvent()
        while self.x11.XPending(self.display):
            self.x11.XNextEvent(self.display, ctypes.byref(event))
            if event.type == MAP_NOTIFY:
                return True
        return False

    def drain(self) -> None:
        while self._next_map():
            pass

    def wait_for_map(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._next_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            select.select([self.fd], [], [], remaining)
        return True

    def close(self) -> None:
        self.x11.XCloseDisplay(self.display)


@contextmanager
def xvfb(screen: str = "1600x1000x24") -> Iterator[str]:
    """A fresh Xvfb; yields its DISPLAY. Clients in a chroot reach it by its abstract socket."""
    read_end, write_end = os.pipe()
    command = ["Xvfb", "-displayfd", str(write_end), "-screen", "0", screen, "-nolisten", "tcp"]
    command += ["-ac"]  # clients in a chroot cannot read our Xauthority file
    server = subprocess.Popen(command, pass_fds=[write_end], stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        with os.fdopen(read_end) as stream:
            number = stream.readline().strip()
        if not number:
            raise OSError("Xvfb did not start")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait()


def drop_page_cache() -> bool:
    try:
        os.sync()
        DROP_CACHES.write_text("3\n")
    except OSError:
        return False
    return True


def time_to_window(
    command: Sequence[str], env: Mapping[str, str], watcher: MapWatcher, timeout: float
) -> float:
    watcher.drain()
    start = time.monotonic()
    program = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        if not watcher.wait_for_map(timeout):
            raise TimeoutError(f"no window within {timeout:.0f} s: {' '.join(command)}")
        return time.monotonic() - start
    finally:
        program.terminate()
        program.wait()


def measure(
    command: Sequence[str], env: Mapping[str, str], runs: int, cold: bool = False
) -> list[float]:
    """Seconds from exec to the first mapped window, for each run."""
    with xvfb() as display:
        watcher = MapWatcher(display)
        try:
            times = []
            for _ in range(runs):
                if cold and not drop_page_cache():
                    raise PermissionError(f"cannot write {DROP_CACHES} (not root, or a container)")
                times.append(time_to_window(command, {**env, "DISPLAY": display}, watcher, 60))
            return times
        finally:
            watcher.close()


def summary(times: Sequence[float]) -> str:
    runs = ", ".join(f"{t:.3f}" for t in times)
    return f"median {statistics.median(times):.3f} s over {len(times)} runs ({runs})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time from exec to the first shown window.")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cold", action="store_true", help="drop the page cache before each run")
    parser.add_argument("command", nargs="+", help="the program and its arguments (after --)")
    args = parser.parse_args(argv)
    times = measure(args.command, dict(os.environ), args.runs, args.cold)
    print(f"{'cold' if args.cold else 'warm'} start to a shown window: {summary(times)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
