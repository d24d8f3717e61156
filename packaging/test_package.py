"""Installs the .deb, runs the installed program headless and in a window, and purges it again.

    python packaging/test_package.py [--deb dist/image-refresh_0.1.0_amd64.deb] [--root DIR]

Needs root (apt-get) and Xvfb. Without --root it tests this machine (`make test-package`); with
--root it works inside a Debian tree through chroot (`make test-cleanroom`, which prepares it): the
program runs in there, while the web server, the X server and the checks (Pillow) run out here.
Steps: install with apt-get; --version; what the bundle can do (fonts, Qt plugins, Pillow codecs);
`add` then `refresh --force` of images served on 127.0.0.1, and of a batch of 80 (which
runs in worker processes), checked on disk; the demo window under
xvfb-run with its screenshots checked; the time to a shown window; purge, leaving no file behind.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import startup_time
from PIL import Image, ImageDraw

PACKAGE = "image-refresh"
PROGRAM = f"/usr/bin/{PACKAGE}"
INSTALLED_PATHS = (
    f"/opt/{PACKAGE}",
    PROGRAM,
    f"/usr/share/applications/{PACKAGE}.desktop",
    f"/usr/share/icons/hicolor/scalable/apps/{PACKAGE}.svg",
    f"/usr/share/icons/hicolor/256x256/apps/{PACKAGE}.png",
)
SAMPLES = ("poster.jpg", "banner.png", "portrait.webp", "hero.avif", "logo.svg")
SCREENSHOTS = ("before", "after", "after-grid")
MIN_COLOURS = 2000  # the demo's gradients and thumbnails; an empty or black window has far fewer
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
XVFB_SCREEN = "-screen 0 1600x1000x24"


class CheckError(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckError(message)


@dataclass
class Machine:
    """This machine, or a Debian tree entered with chroot."""

    root: Path | None
    home: str = "/tmp"

    def path(self, inside: str) -> Path:
        """Where a path of the machine is, seen from here."""
        return self.root / inside.lstrip("/") if self.root else Path(inside)

    def present(self, inside: str) -> bool:
        """A file, folder or link (even one pointing outside, seen from here) is there."""
        return os.path.lexists(self.path(inside))

    def env(self, **extra: str) -> dict[str, str]:
        env = {"PATH": CLEAN_PATH, "HOME": self.home, "LANG": "C.UTF-8"}
        env["DEBIAN_FRONTEND"] = "noninteractive"
        return {**env, **extra}

    def command(self, args: Sequence[str]) -> list[str]:
        return ["chroot", str(self.root), *args] if self.root else list(args)

    def run(
        self, args: Sequence[str], timeout: float = 300, wrap: Sequence[str] = (), **env: str
    ) -> subprocess.CompletedProcess[str]:
        command = [*wrap, *self.command(args)]
        env_vars = self.env(**env)
        return subprocess.run(
            command, check=False, env=env_vars, capture_output=True, text=True, timeout=timeout
        )


def require(result: subprocess.CompletedProcess[str], what: str) -> str:
    if result.returncode != 0:
        raise CheckError(
            f"{what} exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n"
            f"{result.stderr}"
        )
    return result.stdout


# ---- the steps


def install(machine: Machine, deb: Path, scratch: str) -> None:
    if machine.run(["dpkg", "-s", PACKAGE]).returncode == 0:
        print(f"  {PACKAGE} is installed already: purging it first")
        require(machine.run(["apt-get", "purge", "-y", PACKAGE]), "apt-get purge")
    inside = f"{scratch}/{deb.name}"
    shutil.copyfile(deb, machine.path(inside))
    command = ["apt-get", "install", "-y", inside]
    if machine.root:
        command.insert(3, "--no-install-recommends")  # a clean room: Depends alone must do
    result = machine.run(command, timeout=1200)
    if result.returncode != 0 and machine.root is None:
        print("  apt-get install failed: updating the package lists and trying again")
        require(machine.run(["apt-get", "update"], timeout=600), "apt-get update")
        result = machine.run(command, timeout=1200)
    require(result, "apt-get install")
    for path in INSTALLED_PATHS:
        check(machine.present(path), f"{path} is not installed")


def installed_permissions(machine: Machine) -> None:
    bundle = machine.path(f"/opt/{PACKAGE}")
    for path in [bundle, *bundle.rglob("*")]:
        if path.is_symlink():
            continue
        info = path.stat()
        check(info.st_uid == 0 and info.st_gid == 0, f"{path} is not owned by root:root")
        check(not info.st_mode & 0o022, f"{path} is writable by others: {oct(info.st_mode)}")
        if path.is_dir():
            check(info.st_mode & 0o777 == 0o755, f"{path}: directory mode {oct(info.st_mode)}")


def version(machine: Machine) -> None:
    from core import __version__  # noqa: PLC0415 - the checkout's version, to compare with

    out = require(machine.run([PROGRAM, "--version"]), "image-refresh --version").strip()
    print(f"  {out}")
    check(out == f"{PACKAGE} {__version__}", f"--version printed {out!r}, not {__version__}")


def xvfb_run(machine: Machine) -> list[str]:
    # Clients in a chroot reach the server by its abstract socket, and cannot read its Xauthority.
    server_args = f"{XVFB_SCREEN} -ac" if machine.root else XVFB_SCREEN
    return ["xvfb-run", "-a", "-s", server_args]


def bundle_facts(machine: Machine) -> None:
    """Fonts, Qt's xcb platform and image plugins, icons, Pillow's codecs, seen by the bundle."""
    result = machine.run([PROGRAM], wrap=xvfb_run(machine), IMAGE_REFRESH_BUNDLE_CHECK="1")
    facts: dict[str, Any] = json.loads(require(result, "the bundle check"))
    print(
        f"  platform {facts['platform']}, {facts['font_families']} font families "
        f"(default {facts['default_font']}), Qt formats {facts['image_formats']}, "
        f"Pillow {facts['pillow']}"
    )
    check(facts["platform"] == "xcb", "the xcb platform plugin did not load")
    check(facts["font_families"] > 0, "QFontDatabase.families() is empty: no fonts")
    check("QFontDatabase" not in result.stderr, f"Qt complains about fonts: {result.stderr}")


def draw_sample(name: str, version: int) -> tuple[bytes, str]:
    """A picture that is different at each version (a request is a new version)."""
    if name.endswith(".svg"):
        colour = f"#{(version * 2654435761) & 0xFFFFFF:06x}"
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
            f'<rect width="64" height="64" fill="{colour}"/><text y="40">{version}</text></svg>'
        )
        return svg.encode(), "image/svg+xml"
    image = Image.new("RGB", (320, 200), ((version * 53) % 256, 90, (version * 97) % 256))
    ImageDraw.Draw(image).text((20, 20), f"{name} v{version}", fill="white")
    kind = Image.registered_extensions()["." + name.rsplit(".", 1)[1]]
    body = io.BytesIO()
    image.save(body, kind)
    return body.getvalue(), Image.MIME[kind]


class SampleHandler(BaseHTTPRequestHandler):
    versions: dict[str, int] = {}  # noqa: RUF012 - one server per run, shared by its threads
    lock = threading.Lock()

    def do_GET(self) -> None:
        name = urlsplit(self.path).path.lstrip("/")  # "poster.jpg?copy=3" is a poster too
        if name not in SAMPLES:
            self.send_error(404)
            return
        with self.lock:
            self.versions[self.path] = self.versions.get(self.path, 0) + 1
            version = self.versions[self.path]
        body, mime = draw_sample(name, version)
        self.send_response(200)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def sample_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SampleHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def decodable(path: Path) -> bool:
    if path.suffix == ".svg":
        ElementTree.parse(path)
        return True
    with Image.open(path) as image:
        image.load()
    return True


def add_and_force_refresh(
    machine: Machine, cache: str, urls: list[str], *options: str
) -> list[dict[str, Any]]:
    """`add` the URLs, then `refresh --force --all`: each refreshed, newer and decoding."""
    cli = ["--cache-dir", cache, "--json"]
    added = json_lines(require(machine.run([PROGRAM, "add", *urls, *cli]), "add"))
    check(len(added) == len(urls) and all(r["ok"] for r in added), f"add: {added}")
    before = {r["path"]: machine.path(r["path"]).stat().st_mtime_ns for r in added}
    time.sleep(0.05)
    refresh = [PROGRAM, "refresh", "--force", "--all", *options, *cli]
    refreshed = json_lines(require(machine.run(refresh), "refresh --force --all"))
    check(len(refreshed) == len(urls), f"refresh --force: {len(refreshed)} of {len(urls)} results")
    for result in refreshed:
        path = machine.path(result["path"])
        check(result["ok"] and result["action"] == "refreshed", f"refresh: {result}")
        check(path.stat().st_mtime_ns > before[result["path"]], f"{path}: the mtime did not move")
        check(decodable(path), f"{path}: Pillow cannot decode it")
    return refreshed


def headless_refresh(machine: Machine, scratch: str) -> None:
    with sample_server() as base:
        urls = [f"{base}/{name}" for name in SAMPLES]
        refreshed = add_and_force_refresh(machine, f"{scratch}/cache", urls)
    for result in refreshed:
        name = Path(result["path"]).name
        print(f"  refreshed {name}: {result['before_mtime']} -> {result['after_mtime']}")


def big_batch(machine: Machine, scratch: str) -> None:
    """A batch of 80: the bundled program runs it in worker processes (forked on Linux)."""
    with sample_server() as base:
        urls = [f"{base}/poster.jpg?copy={n}" for n in range(80)]
        add_and_force_refresh(machine, f"{scratch}/big-cache", urls, "--jobs", "8")
    print("  80 refreshed, each newer and decoding")


def colours(path: Path) -> int:
    with Image.open(path) as image:
        found = image.convert("RGB").getcolors(maxcolors=1 << 24)
    return len(found or [])


def demo_screenshots(machine: Machine, scratch: str) -> None:
    shot = f"{scratch}/shots/shot.png"
    # --screenshot runs the demo by itself (in a throwaway cache under TMPDIR): force-refreshes
    # it all, saves screenshots, exits.
    command = [PROGRAM, "gui", "--screenshot"]
    started = time.monotonic()
    # TMPDIR through env(1): xvfb-run runs outside a clean room's chroot, where scratch is not.
    throwaway = ["env", f"TMPDIR={scratch}"]
    result = machine.run([*throwaway, *command, shot], wrap=xvfb_run(machine), timeout=600)
    require(result, "gui --screenshot")
    check("qt.qpa" not in result.stderr, f"Qt's platform complains: {result.stderr}")
    print(f"  the demo ran in {time.monotonic() - started:.1f} s")
    for label in SCREENSHOTS:
        path = machine.path(f"{scratch}/shots/shot-{label}.png")
        check(path.exists(), f"{path} was not saved")
        count = colours(path)
        print(f"  {path.name}: {Image.open(path).size}, {count} colours")
        check(count >= MIN_COLOURS, f"{path} looks blank: {count} colours")


def bare_command_headless(machine: Machine, scratch: str) -> None:
    # The desktop entry's command. Without a display it says so, and runs nothing.
    bare = machine.run([PROGRAM], timeout=60, TMPDIR=scratch)
    check(bare.returncode == 1, f"image-refresh without a display exited {bare.returncode}")
    check("No display found" in bare.stderr, f"no word about the missing display: {bare.stderr}")
    # The demo (`make run`) runs offscreen, its refreshes in worker processes started from the
    # bundled executable.
    result = machine.run([PROGRAM, "gui", "--demo"], timeout=600, TMPDIR=scratch)
    out = require(result, "image-refresh gui --demo (no display)")
    check("No display found" in out, f"no word about the missing display: {out}")
    refreshed = [line for line in out.splitlines() if " → " in line]
    check(
        len(refreshed) >= 20 and all(line.rstrip().endswith("refreshed") for line in refreshed),
        f"the headless demo did not refresh its images: {out}",
    )
    print(f"  {len(refreshed)} images force-refreshed by the worker processes")


def startup(machine: Machine, scratch: str, runs: int) -> None:
    empty = f"{scratch}/empty-cache"
    machine.path(empty).mkdir()
    command = machine.command([PROGRAM, "gui", "--cache-dir", empty])
    times = startup_time.measure(command, machine.env(), runs)
    print(f"  warm start to a shown window: {startup_time.summary(times)}")
    if startup_time.drop_page_cache():
        cold = startup_time.measure(command, machine.env(), runs, cold=True)
        print(f"  cold start (page cache dropped): {startup_time.summary(cold)}")
    version_times = []
    for _ in range(runs):
        started = time.monotonic()
        require(machine.run([PROGRAM, "--version"]), "--version")
        version_times.append(time.monotonic() - started)
    print(f"  image-refresh --version: {startup_time.summary(version_times)}")


def purge(machine: Machine) -> None:
    require(machine.run(["apt-get", "purge", "-y", PACKAGE]), "apt-get purge")
    left = [path for path in INSTALLED_PATHS if machine.present(path)]
    check(not left, f"left behind after purge: {left}")


# ---- running them


def step(name: str, action: Callable[[], None]) -> None:
    print(f"== {name}", flush=True)
    started = time.monotonic()
    action()
    print(f"   ok ({time.monotonic() - started:.1f} s)", flush=True)


def run_all(machine: Machine, deb: Path, startup_runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="image-refresh-test-", dir=machine.path("/tmp")) as tmp:
        scratch = "/tmp/" + Path(tmp).name
        machine.home = f"{scratch}/home"
        machine.path(machine.home).mkdir()
        os.chmod(tmp, 0o755)  # apt's sandbox user reads the .deb from here
        step(f"apt-get install {deb.name}", lambda: install(machine, deb, scratch))
        step("installed files and permissions", lambda: installed_permissions(machine))
        step("image-refresh --version", lambda: version(machine))
        step("the bundle: fonts, plugins, codecs", lambda: bundle_facts(machine))
        step("add, refresh --force from 127.0.0.1", lambda: headless_refresh(machine, scratch))
        step("a batch of 80 in worker processes", lambda: big_batch(machine, scratch))
        step("gui --screenshot (demo) under xvfb-run", lambda: demo_screenshots(machine, scratch))
        step(
            "image-refresh and image-refresh gui --demo, no display",
            lambda: bare_command_headless(machine, scratch),
        )
        if startup_runs:
            step("time to a shown window", lambda: startup(machine, scratch, startup_runs))
        step(f"apt-get purge {PACKAGE}", lambda: purge(machine))


def newest_deb() -> Path:
    debs = sorted(Path("dist").glob(f"{PACKAGE}_*.deb"), key=lambda p: p.stat().st_mtime)
    if not debs:
        raise SystemExit("no dist/image-refresh_*.deb: run `make package` first")
    return debs[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Install, run and purge the Image Refresh .deb.")
    parser.add_argument("--deb", type=Path, help="default: the newest dist/image-refresh_*.deb")
    parser.add_argument("--root", type=Path, help="a Debian tree to test in, through chroot")
    parser.add_argument("--startup-runs", type=int, default=5, help="0 to skip the timing")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("run as root: the test installs and purges the package with apt-get")
    deb = (args.deb or newest_deb()).resolve()
    machine = Machine(args.root.resolve() if args.root else None)
    started = time.monotonic()
    try:
        run_all(machine, deb, args.startup_runs)
    except (CheckError, subprocess.TimeoutExpired) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    where = f"in {machine.root}" if machine.root else "on this machine"
    print(f"{deb.name}: installed, ran and purged {where} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
