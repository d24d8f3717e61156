"""Benchmark: how the window feels on a big cache, and whether it stays responsive while refreshing.

Not a pytest test (no `test_` prefix, no test functions). Two measurements, each in a fresh child
process per round, started the way `image-refresh gui --cache-dir DIR` starts (the real launcher,
`gui.app.run`, the real `MainWindow`; the child only adds a probe to the window):

  1. start-up: a cache of 10,000 small JPEGs (400×300). Time from just before the child is spawned
     (interpreter start-up and imports count) to the first screen of thumbnails painted: the
     table's viewport paints while every row visible in it has its real thumbnail in the
     ThumbnailLoader (not the placeholder). Peak RSS of the child: its own VmHWM (exact) and
     `ru_maxrss` from `os.wait4` (which also counts the parent's peak before exec, see below).
  2. refresh: a cache of 1,000 JPEGs of about 100 KB. Once the window is settled, a 5 ms QTimer
     heartbeat runs on the GUI thread, Edit ▸ Select All and Image ▸ Force Refresh are triggered,
     and the heartbeat keeps running until `batch_finished` (+0.5 s). The gaps between ticks are
     the GUI thread's stalls: max, 99th percentile, count above 50 ms. Afterwards every cached file
     must have a newer mtime and decode fully, and every job must report `refreshed`.

The images are generated deterministically with Pillow, served on 127.0.0.1 by the standard
library's ThreadingHTTPServer (HTTP/1.1, in this parent process) and put into the caches through
the core API (`ImageCache.add_urls`, `refresh_many`) once; the caches are reused by every round.
Each child gets fresh user folders (settings, log) and the Qt platform `offscreen`, or `xcb` on
an Xvfb started here (`--platform xvfb`). Bytecode is cached as in an installed program: one
warm-up start (not counted) compiles it into the work folder. Each round also reports the CPU
time other processes used meanwhile: on a busy machine the figures are not comparable.

    .venv/bin/python -m tests.benchmarks.gui_responsiveness [--rounds 3]
        [--platform offscreen|xvfb] [--only startup|refresh] [--workdir DIR]
        [--startup-count 10000] [--refresh-count 1000] [--code DIR] [--sample-stalls]

`--workdir DIR` keeps the generated corpora and caches in DIR and reuses them on the next run.
`--code DIR` runs the window from another copy of the sources, for a before/after comparison:
`git archive HEAD gui core resources | tar -x -C /tmp/head` then `--code /tmp/head`.
`--sample-stalls` (diagnosis only: it perturbs the figures) samples the GUI thread's Python stack
whenever the heartbeat is more than 20 ms late and prints where the time went;
`--switch-interval S` (an experiment) sets `sys.setswitchinterval` in the child.

`ru_maxrss` caveat: a child's `ru_maxrss` is at least the RSS of the parent's address space it
was spawned from (vfork shares it until exec), so the parent's own peak is printed too; VmHWM,
read by the child from /proc/self/status just before it exits, covers only the child's program.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CATEGORIES = ("events", "performers", "venues", "sponsors")
SMALL_SIZE = (400, 300)
LARGE_SIZE = (1024, 768)
HEARTBEAT_MS = 5
STALL_MS = 50.0
CHILD_TIME_LIMIT = 600.0
SEED_JOBS = 8
TARGET_FIRST_SCREEN = 1.0  # s
TARGET_RSS_MB = 300.0
TARGET_STALL_MS = 50.0


class BenchmarkError(Exception):
    """The benchmark cannot run, or the window did the wrong thing."""


# --- corpus and caches (parent) -----------------------------------------------------------------


def make_jpeg(index: int, size: tuple[int, int], grid: tuple[int, int], quality: int) -> bytes:
    # imported here: the window's child process never makes images
    from tests.benchmarks.refresh_vs_curl import noisy_jpeg  # noqa: PLC0415

    return noisy_jpeg(index, size, grid, quality)


def small_jpeg(index: int) -> bytes:
    return make_jpeg(index, SMALL_SIZE, (20, 15), 80)  # about 10 KB


def large_jpeg(index: int) -> bytes:
    rng = random.Random(-index)  # about 70-140 KB
    return make_jpeg(index, LARGE_SIZE, rng.choice(((112, 84), (128, 96), (144, 108))), 75)


class _QuietHandler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the refresher reuses its connections

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


@contextlib.contextmanager
def serve_folder(folder: Path, port: int = 0) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 from a thread of this process; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    try:
        server = _Server(("127.0.0.1", port), handler)
    except OSError:
        server = _Server(("127.0.0.1", 0), handler)  # the port of the cached URLs is taken
    thread = threading.Thread(target=server.serve_forever, name="http-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def corpus_names(count: int) -> dict[str, list[str]]:
    """URL paths by category, `count` in all."""
    names: dict[str, list[str]] = {category: [] for category in CATEGORIES}
    for index in range(count):
        category = CATEGORIES[index % len(CATEGORIES)]
        names[category].append(f"{category}/photo-{index:05d}.jpg")
    return names


def prepare_cache(
    workdir: Path, label: str, count: int, maker: Callable[[int], bytes]
) -> tuple[Path, Path]:
    """Generate the corpus and fill a cache with it through the core API (once; reused)."""
    web_root, cache_dir = workdir / f"{label}-www", workdir / f"{label}-cache"
    marker = workdir / f"{label}.ready"
    if marker.exists() and marker.read_text() == str(count):
        return web_root, cache_dir
    from core.cache import ImageCache  # noqa: PLC0415
    from core.models import Action, RefreshMode  # noqa: PLC0415
    from core.settings import RefreshSettings  # noqa: PLC0415

    shutil.rmtree(web_root, ignore_errors=True)
    shutil.rmtree(cache_dir, ignore_errors=True)
    started = time.perf_counter()
    names = corpus_names(count)
    index = 0
    for category, paths in names.items():
        (web_root / category).mkdir(parents=True)
        for path in paths:
            (web_root / path).write_bytes(maker(index))
            index += 1
    generated = time.perf_counter() - started
    with (
        serve_folder(web_root) as base_url,
        ImageCache(cache_dir, RefreshSettings(jobs=SEED_JOBS)).open() as cache,
    ):
        entries = []
        for category, paths in names.items():
            entries += cache.add_urls([f"{base_url}/{p}" for p in paths], category)
        results = list(cache.refresh_many(entries, RefreshMode.MISSING))
    bad = [r for r in results if r.action is not Action.DOWNLOADED]
    if len(results) != count or bad:
        raise BenchmarkError(f"seeding {label}: {len(bad)} of {len(results)} not downloaded")
    size = sum(p.stat().st_size for p in web_root.rglob("*.jpg"))
    print(
        f"{label}: {count} JPEGs, {size / 1e6:.0f} MB, generated in {generated:.1f} s,"
        f" cached through the core in {time.perf_counter() - started - generated:.1f} s",
        file=sys.stderr,
    )
    marker.write_text(str(count))
    return web_root, cache_dir


def cache_files(cache_dir: Path) -> dict[str, tuple[Path, float]]:
    """URL → (cached file, its mtime), read through the core API."""
    from core.cache import ImageCache  # noqa: PLC0415

    with ImageCache(cache_dir).open() as cache:
        files = {}
        for entry in cache.entries():
            path = cache.path_of(entry)
            if entry.url is None or path is None:
                raise BenchmarkError(f"unexpected manifest row {entry}")
            files[entry.url] = (path, path.stat().st_mtime)
    return files


def manifest_base_url(cache_dir: Path) -> str:
    """The scheme://host:port the cached URLs point at."""
    import sqlite3  # noqa: PLC0415

    db = sqlite3.connect(cache_dir / ".image-refresh" / "manifest.sqlite3", isolation_level=None)
    try:
        (url,) = db.execute("SELECT url FROM images LIMIT 1").fetchone()
    finally:
        db.close()
    return "/".join(str(url).split("/", 3)[:3])


def rebase_urls(cache_dir: Path, base_url: str) -> None:
    """Point the cached URLs at this server if it could not get their port (a rerun)."""
    import sqlite3  # noqa: PLC0415

    old = manifest_base_url(cache_dir)
    if old == base_url:
        return
    db = sqlite3.connect(cache_dir / ".image-refresh" / "manifest.sqlite3", isolation_level=None)
    try:
        db.execute("UPDATE images SET url = ? || substr(url, ?)", (base_url, len(old) + 1))
    finally:
        db.close()


# --- virtual display (parent) -------------------------------------------------------------------


@contextlib.contextmanager
def virtual_display() -> Iterator[str]:
    """Start Xvfb on a free display number; yield DISPLAY."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise BenchmarkError("Xvfb is not installed (apt-get install xvfb)")
    for number in range(90, 140):
        if (
            not Path(f"/tmp/.X11-unix/X{number}").exists()
            and not Path(f"/tmp/.X{number}-lock").exists()
        ):
            break
    else:
        raise BenchmarkError("no free X display number")
    command = [xvfb, f":{number}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise BenchmarkError("Xvfb did not start")
            time.sleep(0.05)
        yield f":{number}"
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- child runs (parent) ------------------------------------------------------------------------


@dataclass
class ChildRun:
    result: dict[str, Any]
    ru_maxrss_kib: int
    wall: float
    others_cpu: float  # CPU seconds other processes used meanwhile (a busy machine skews it)


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy since boot (all cores)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def vm_kib(field_name: str) -> int:
    """VmHWM / VmRSS of this process in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def child_env(
    round_dir: Path, display: str | None, code: Path | None = None, data_home: Path | None = None
) -> dict[str, str]:
    env = dict(os.environ)
    if code is not None:  # another version of gui/ and core/, e.g. `git archive` of a commit
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
    # Bytecode as an installed program has it: compiled once (by the warm-up start) and reused,
    # kept in the work folder rather than beside the sources.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(round_dir.parents[1] / "pycache")
    for variable in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        env[variable] = str(round_dir / "user" / variable.lower())  # fresh settings every round
    if data_home is not None:  # where an adopted folder's state is (see adopt_folder.py)
        env["XDG_DATA_HOME"] = str(data_home)
    env.pop("IMAGE_REFRESH_CACHE_DIR", None)
    if display is None:
        env["QT_QPA_PLATFORM"] = "offscreen"
        env.pop("DISPLAY", None)
    else:
        env["QT_QPA_PLATFORM"] = "xcb"
        env["DISPLAY"] = display
    env.pop("WAYLAND_DISPLAY", None)
    return env


def run_child(
    mode: str,
    cache_dir: Path,
    round_dir: Path,
    display: str | None,
    extra: list[str],
    code: Path | None = None,
    data_home: Path | None = None,
) -> ChildRun:
    # imported here: the window's child process never loads the download benchmark
    from tests.benchmarks.refresh_vs_curl import wait_with_watchdog  # noqa: PLC0415

    round_dir.mkdir(parents=True)
    result_file = round_dir / "result.json"
    stderr_path = round_dir / "stderr.txt"
    env = child_env(round_dir, display, code, data_home)
    busy_before, ours_before = busy_cpu_seconds(), sum(os.times()[:2])
    with stderr_path.open("wb") as err:
        t0 = time.perf_counter()  # CLOCK_MONOTONIC: the child's perf_counter() shares it
        command = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--t0", repr(t0)]
        command += ["--cache-dir", str(cache_dir), "--result", str(result_file), *extra]
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=err, env=env, start_new_session=True
        )
        usage = wait_with_watchdog(process, CHILD_TIME_LIMIT)
        wall = time.perf_counter() - t0
    ours = sum(os.times()[:2]) - ours_before + usage.ru_utime + usage.ru_stime
    others = busy_cpu_seconds() - busy_before - ours
    stderr_tail = " | ".join(stderr_path.read_text("utf-8", "replace").strip().splitlines()[-8:])
    if not result_file.exists():
        raise BenchmarkError(
            f"{mode} child exited {process.returncode} without a result: {stderr_tail}"
        )
    result = json.loads(result_file.read_text())
    if process.returncode != 0 or result.get("error"):
        raise BenchmarkError(
            f"{mode} child exited {process.returncode}: {result.get('error')} {stderr_tail}"
        )
    return ChildRun(result, usage.ru_maxrss, wall, max(others, 0.0))


def verify_refresh(
    before: dict[str, tuple[Path, float]],
    after: dict[str, tuple[Path, float]],
    result: dict[str, Any],
    spawned_at: float,
) -> None:
    """Every job refreshed; every file newer than before and than the spawn, and decodes."""
    from PIL import Image  # noqa: PLC0415

    actions = Counter(result["actions"].values())
    if set(result["actions"]) != set(before) or actions != Counter({"refreshed": len(before)}):
        raise BenchmarkError(f"refresh results: {dict(actions)} for {len(before)} images")
    if set(after) != set(before):
        raise BenchmarkError("the manifest's URLs changed during the refresh")
    for url, (path, mtime) in after.items():
        old_mtime = before[url][1]
        if not mtime > old_mtime or mtime < spawned_at - 0.02:
            raise BenchmarkError(f"{path}: mtime {mtime} not newer than {old_mtime}")
        try:
            with Image.open(path) as image:
                image.load()
        except (OSError, ValueError) as error:
            raise BenchmarkError(f"{path} does not decode: {error}") from error


# --- figures (parent) ---------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    unit: str
    values: list[float] = field(default_factory=list)
    target: str = ""
    passes: Callable[[float], bool] | None = None

    def line(self) -> str:
        if not self.values:
            return f"{self.name:<52} (not measured)"
        median = statistics.median(self.values)
        spread = f"{min(self.values):.3g}–{max(self.values):.3g}"
        verdict = ""
        if self.passes is not None:
            verdict = "ok" if self.passes(max(self.values)) else "MISSED"
        rounds = ", ".join(f"{v:.4g}" for v in self.values)
        return (
            f"{self.name:<52} {median:>9.4g} {self.unit:<3} {spread:>17}  {self.target:<9}"
            f" {verdict:<6}  [{rounds}]"
        )


def print_table(title: str, figures: list[Figure]) -> None:
    header = f"{'':<52} {'median':>13} {'min–max':>17}  {'target':<9} {'':<6}  [per round]"
    print()
    print(title)
    print(header)
    print("-" * len(header))
    for figure in figures:
        print(figure.line())


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def print_samples(results: list[dict[str, Any]]) -> None:
    totals: Counter[str] = Counter()
    for result in results:
        for stack, weight in result.get("stall_samples", {}).items():
            totals[stack] += weight
    if not totals:
        return
    print("\nGUI-thread stacks while the heartbeat was > 20 ms late (ms, all rounds):")
    for stack, weight in totals.most_common(25):
        print(f"{weight:8.0f}  {stack}")


# --- the benchmark (parent) ---------------------------------------------------------------------


def bench_startup(args: argparse.Namespace, workdir: Path, display: str | None) -> list[Figure]:
    """Prints the start-up table; returns its figures (first screen first, then RSS)."""
    _web_root, cache_dir = prepare_cache(workdir, "startup", args.startup_count, small_jpeg)
    first = Figure(
        "first screen of thumbnails painted (s from spawn)",
        "s",
        target="< 1 s",
        passes=lambda v: v < TARGET_FIRST_SCREEN,
    )
    marks = {
        "main": Figure("  interpreter up, benchmark script started", "s"),
        "imported": Figure("  gui.app + Qt imported", "s"),
        "window_built": Figure("  MainWindow constructed", "s"),
        "cache_opened": Figure("  cache loaded, model holds every row", "s"),
    }
    rss = Figure(
        "peak RSS, child VmHWM (MB)", "MB", target="< 300 MB", passes=lambda v: v < TARGET_RSS_MB
    )
    rss_first = Figure("  VmHWM at the first screen (MB)", "MB")
    ru = Figure("peak RSS, ru_maxrss via os.wait4 (MB)", "MB")
    settle = Figure("thumbnail loader idle after the first screen (s)", "s")
    others = Figure("other processes' CPU during the round (s)", "s")
    extra = child_options(args)
    results = []
    warm_up = run_child(
        "startup",
        cache_dir,
        workdir / "rounds" / f"startup-{args.tag}-0",
        display,
        extra,
        args.code,
    )
    print(
        f"startup warm-up (not counted; compiles the bytecode if it is not cached yet):"
        f" first screen {warm_up.result['marks']['first_screen']:.3f} s",
        file=sys.stderr,
    )
    for number in range(1, args.rounds + 1):
        run = run_child(
            "startup",
            cache_dir,
            workdir / "rounds" / f"startup-{args.tag}-{number}",
            display,
            extra,
            args.code,
        )
        r = run.result
        if r["rows"] != args.startup_count:
            raise BenchmarkError(f"the window shows {r['rows']} rows, not {args.startup_count}")
        first.values.append(r["marks"]["first_screen"])
        for key, figure in marks.items():
            figure.values.append(r["marks"][key])
        rss.values.append(r["vm_hwm_kib"] / 1024)
        rss_first.values.append(r["vm_hwm_first_kib"] / 1024)
        ru.values.append(run.ru_maxrss_kib / 1024)
        settle.values.append(r["marks"]["idle"] - r["marks"]["first_screen"])
        others.values.append(run.others_cpu)
        results.append(r)
        print(
            f"startup round {number}: first screen {r['marks']['first_screen']:.3f} s"
            f" ({r['visible']} visible rows), VmHWM {r['vm_hwm_kib'] / 1024:.0f} MB,"
            f" ru_maxrss {run.ru_maxrss_kib / 1024:.0f} MB; {busy_note(run)}",
            file=sys.stderr,
        )
    figures = [first, *marks.values(), settle, rss, rss_first, ru, others]
    print_table(
        f"1. start-up on a {args.startup_count}-image cache ({args.platform}, {args.rounds} rounds;"
        f" parent VmHWM {vm_kib('VmHWM') / 1024:.0f} MB)",
        figures,
    )
    print_samples(results)
    return figures


def bench_refresh(args: argparse.Namespace, workdir: Path, display: str | None) -> list[Figure]:
    """Prints the refresh table; returns its figures (total, max stall, ..., RSS)."""
    web_root, cache_dir = prepare_cache(workdir, "refresh", args.refresh_count, large_jpeg)
    total = Figure("force refresh: trigger → batch_finished (s)", "s")
    stall = Figure(
        "max GUI-thread stall (ms between 5 ms ticks)",
        "ms",
        target="< 50 ms",
        passes=lambda v: v < TARGET_STALL_MS,
    )
    p99 = Figure("p99 gap between ticks (ms)", "ms")
    over = Figure("stalls > 50 ms (count)", "")
    trigger = Figure("  select all + trigger, synchronous part (ms)", "ms")
    rss = Figure(
        "peak RSS, child VmHWM (MB)", "MB", target="< 300 MB", passes=lambda v: v < TARGET_RSS_MB
    )
    ru = Figure("peak RSS, ru_maxrss via os.wait4 (MB)", "MB")
    others = Figure("other processes' CPU during the round (s)", "s")
    extra = child_options(args)
    results = []
    port = int(manifest_base_url(cache_dir).rsplit(":", 1)[1])
    with serve_folder(web_root, port) as base_url:
        rebase_urls(cache_dir, base_url)
        for number in range(1, args.rounds + 1):
            before = cache_files(cache_dir)
            spawned_at = time.time()
            run = run_child(
                "refresh",
                cache_dir,
                workdir / "rounds" / f"refresh-{args.tag}-{number}",
                display,
                extra,
                args.code,
            )
            r = run.result
            verify_refresh(before, cache_files(cache_dir), r, spawned_at)
            gaps = r["gaps_ms"]
            total.values.append(r["batch_seconds"])
            stall.values.append(max(gaps))
            p99.values.append(percentile(gaps, 0.99))
            over.values.append(sum(1 for g in gaps if g > STALL_MS))
            trigger.values.append(r["trigger_ms"])
            rss.values.append(r["vm_hwm_kib"] / 1024)
            ru.values.append(run.ru_maxrss_kib / 1024)
            others.values.append(run.others_cpu)
            results.append(r)
            worst = ", ".join(f"{g:.0f} ms at {t:+.2f} s" for t, g in r["worst_gaps"][:6])
            print(
                f"refresh round {number}: {r['batch_seconds']:.2f} s, {len(gaps)} ticks,"
                f" max gap {max(gaps):.1f} ms; worst: {worst} (times from the trigger);"
                f" {len(before)} files newer and decoding; {busy_note(run)}",
                file=sys.stderr,
            )
    figures = [total, stall, p99, over, trigger, rss, ru, others]
    print_table(
        f"2. force refresh of {args.refresh_count} images (~100 KB JPEGs, stdlib"
        f" ThreadingHTTPServer on 127.0.0.1; {args.platform}, {args.rounds} rounds)",
        figures,
    )
    print_samples(results)
    return figures


def busy_note(run: ChildRun) -> str:
    """Whether other programs competed for the CPU during a round (the figures then suffer)."""
    share = run.others_cpu / (run.wall * (os.cpu_count() or 1))
    note = f"other processes used {run.others_cpu:.2f} CPU-s ({share:.0%} of the machine)"
    return note + (" — BUSY MACHINE, figures skewed" if share > 0.1 else "")


def child_options(args: argparse.Namespace) -> list[str]:
    extra = ["--sample-stalls"] if args.sample_stalls else []
    if args.switch_interval:
        extra += ["--switch-interval", str(args.switch_interval)]
    return extra


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--platform", choices=("offscreen", "xvfb"), default="offscreen")
    parser.add_argument("--only", choices=("startup", "refresh"))
    parser.add_argument("--startup-count", type=int, default=10_000)
    parser.add_argument("--refresh-count", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, help="keep corpora and caches here, reuse them")
    parser.add_argument("--sample-stalls", action="store_true", help="diagnosis: where stalls go")
    parser.add_argument(
        "--code", type=Path, help="run the window from this copy of gui/ and core/ (PYTHONPATH)"
    )
    parser.add_argument(
        "--switch-interval", type=float, help="experiment: sys.setswitchinterval in the child"
    )
    args = parser.parse_args(argv)
    if min(args.rounds, args.startup_count, args.refresh_count) < 1:
        parser.error("--rounds and the counts must be at least 1")
    args.tag = f"{args.platform}-{os.getpid()}"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gui-responsiveness-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, Qt platform {args.platform},"
        f" work folder {workdir}",
        file=sys.stderr,
    )
    try:
        with contextlib.ExitStack() as stack:
            display = stack.enter_context(virtual_display()) if args.platform == "xvfb" else None
            if args.only in (None, "startup"):
                bench_startup(args, workdir, display)
            if args.only in (None, "refresh"):
                bench_refresh(args, workdir, display)
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            shutil.rmtree(workdir / "rounds", ignore_errors=True)
    return 0


# --- the child: the real window with a probe ----------------------------------------------------


class StallSampler(threading.Thread):
    """Diagnosis: samples the GUI thread's Python stack while the heartbeat is late."""

    def __init__(self, last_tick: list[float], late_s: float = 0.02) -> None:
        super().__init__(name="stall-sampler", daemon=True)
        self.gui_thread = threading.main_thread().ident
        self.last_tick = last_tick
        self.late_s = late_s
        self.samples: Counter[str] = Counter()
        self.stop = threading.Event()

    def run(self) -> None:
        previous = time.perf_counter()
        while not self.stop.wait(0.002):
            now = time.perf_counter()
            if self.last_tick[0] and now - self.last_tick[0] > self.late_s:
                frame = sys._current_frames().get(self.gui_thread or 0)
                self.samples[describe_stack(frame)] += (now - previous) * 1000
            previous = now


def describe_stack(frame: Any) -> str:
    """The project's frames (and the innermost one) of a stack, outermost first."""
    parts: list[str] = []
    innermost = True
    while frame is not None:
        code = frame.f_code
        where = code.co_filename
        mine = "/gui/" in where or "/core/" in where
        if mine or innermost:
            short = "/".join(Path(where).parts[-2:])
            parts.append(f"{short}:{frame.f_lineno} {code.co_name}")
        innermost = False
        frame = frame.f_back
    return " ← ".join(parts) or "(Qt, no Python frame)"


def vm_hwm_kib() -> int:
    return vm_kib("VmHWM")


def child_main(options: argparse.Namespace) -> int:
    marks: dict[str, float] = {"main": time.perf_counter() - options.t0}
    if options.switch_interval:
        sys.setswitchinterval(options.switch_interval)

    def mark(name: str) -> None:
        marks[name] = time.perf_counter() - options.t0

    from PySide6.QtCore import QEvent, QObject, Qt, QTimer  # noqa: PLC0415
    from PySide6.QtWidgets import QApplication  # noqa: PLC0415

    import gui.app  # noqa: PLC0415
    from gui import launcher  # noqa: PLC0415
    from gui.image_model import Column, Role  # noqa: PLC0415
    from gui.main_window import MainWindow  # noqa: PLC0415
    from gui.thumbnails import TABLE_EDGE  # noqa: PLC0415

    mark("imported")
    report: dict[str, Any] = {"marks": marks}

    def finish(code: int, error: str | None = None) -> None:
        report["error"] = error
        report["vm_hwm_kib"] = vm_hwm_kib()
        Path(options.result).write_text(json.dumps(report))
        app = QApplication.instance()
        if app is not None:
            app.exit(code)

    def visible_ready(window: MainWindow) -> int:
        """How many rows are visible, if every one has its real thumbnail; else 0."""
        proxy, table = window.proxy, window.table
        count = proxy.rowCount()
        first = table.rowAt(0)
        if count == 0 or first < 0:
            return 0
        last = table.rowAt(table.viewport().height() - 1)
        last = count - 1 if last < 0 else last
        for position in range(first, last + 1):
            source = proxy.mapToSource(proxy.index(position, Column.NAME))
            row = window.model.data(source, Role.ROW)
            key = row.thumbnail_key if row is not None else None
            if key is None or window.thumbnails.cached((*key, TABLE_EDGE)) is None:
                return 0
        return last - first + 1

    class PaintWatch(QObject):
        """Notes the first paint of the table's viewport with every visible thumbnail ready."""

        def __init__(self, window: MainWindow, on_painted: Callable[[int], None]) -> None:
            super().__init__(window)
            self.window = window
            self.on_painted = on_painted
            self.done = False

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if not self.done and event.type() == QEvent.Type.Paint:
                visible = visible_ready(self.window)
                if visible:
                    self.done = True
                    # Runs once this paint event has been handled: the screen is drawn.
                    QTimer.singleShot(0, functools.partial(self.on_painted, visible))
            return False

    def startup_probe(window: MainWindow) -> None:
        def painted(visible: int) -> None:
            mark("first_screen")
            report["visible"] = visible
            report["rows"] = window.model.rowCount()
            report["vm_hwm_first_kib"] = vm_hwm_kib()
            poll.start()

        def settled() -> None:
            if window.is_idle():
                poll.stop()
                mark("idle")
                finish(0)

        watch = PaintWatch(window, painted)
        window.table.viewport().installEventFilter(watch)
        window.cache_opened.connect(lambda _folder: mark("cache_opened"))
        window.cache_failed.connect(lambda message: finish(1, message))
        poll = QTimer(window)
        poll.setInterval(10)
        poll.timeout.connect(settled)

    def refresh_probe(window: MainWindow) -> None:
        ticks: list[float] = []
        last_tick = [0.0]
        sampler = StallSampler(last_tick) if options.sample_stalls else None
        heartbeat = QTimer(window)
        heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
        heartbeat.setInterval(HEARTBEAT_MS)
        actions: dict[str, str] = {}
        state: dict[str, float] = {}

        def tick() -> None:
            now = time.perf_counter()
            ticks.append(now)
            last_tick[0] = now

        def wait_until_settled() -> None:
            if window.model.rowCount() and visible_ready(window) and window.is_idle():
                settle.stop()
                heartbeat.start()
                if sampler is not None:
                    sampler.start()
                QTimer.singleShot(300, start_refresh)

        def start_refresh() -> None:
            state["trigger"] = time.perf_counter()
            window.commands.select_all.trigger()
            window.commands.force_refresh.trigger()
            state["triggered"] = time.perf_counter()

        def on_job_finished(key: str, result: Any) -> None:
            actions[key] = result.action.value

        def on_batch_finished(batch: Any) -> None:
            state["finished"] = time.perf_counter()
            report["batch"] = {"total": batch.total, "failed": batch.failed}
            QTimer.singleShot(500, stop)

        def stop() -> None:
            heartbeat.stop()
            if sampler is not None:
                sampler.stop.set()
                report["stall_samples"] = dict(sampler.samples)
            gaps = [(b - a) * 1000 for a, b in itertools.pairwise(ticks)]
            trigger = state["trigger"]
            worst = sorted(
                ((ticks[i] - trigger, gap) for i, gap in enumerate(gaps)), key=lambda x: -x[1]
            )
            report["gaps_ms"] = gaps
            report["worst_gaps"] = worst[:20]
            report["batch_seconds"] = state["finished"] - trigger
            report["trigger_ms"] = (state["triggered"] - trigger) * 1000
            report["actions"] = actions
            report["rows"] = window.model.rowCount()
            finish(0)

        settle = QTimer(window)
        settle.setInterval(20)
        settle.timeout.connect(wait_until_settled)
        heartbeat.timeout.connect(tick)
        window.controller.job_finished.connect(on_job_finished)
        window.controller.batch_finished.connect(on_batch_finished)
        window.cache_opened.connect(lambda _folder: settle.start())
        window.cache_failed.connect(lambda message: finish(1, message))

    probe = startup_probe if options.child == "startup" else refresh_probe

    class ProbedWindow(MainWindow):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            mark("window_built")
            probe(self)
            deadline = QTimer(self)
            deadline.setSingleShot(True)
            deadline.timeout.connect(lambda: finish(3, "the child timed out"))
            deadline.start(int(CHILD_TIME_LIMIT * 1000) - 30_000)

    gui.app.MainWindow = ProbedWindow  # what `image-refresh gui` constructs
    return launcher.main(["gui", "--cache-dir", options.cache_dir])


def parse_child_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=("startup", "refresh"), required=True)
    parser.add_argument("--t0", type=float, required=True)
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--sample-stalls", action="store_true")
    parser.add_argument("--switch-interval", type=float)
    return parser.parse_args(argv)


if __name__ == "__main__":
    if "--child" in sys.argv[1:]:
        sys.exit(child_main(parse_child_args(sys.argv[1:])))
    sys.exit(main())
